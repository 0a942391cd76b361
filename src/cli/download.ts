// `tunevlseg download <repo-id>`: a model's files into the hub-layout cache (src/hub).
import type { Command } from 'commander';
import { examples, flag, option } from './flags.js';

export function registerDownloadCommand(program: Command): void {
  const cmd = program.command('download <repo>')
    .description('download a model (e.g. CIDAS/clipseg-rd64-refined) into the cache ($TUNEVLSEG_CACHE, default ~/.cache/tunevlseg); resumes, verifies hashes; $HF_ENDPOINT names a mirror');
  option(cmd, '--revision <rev>', 'branch, tag or commit', { defaultText: 'main' });
  option(cmd, '--files <list>', 'comma-separated file names', { defaultText: 'config, weights, tokenizer files' });
  option(cmd, '--cache-dir <dir>', 'cache folder', { defaultText: '$TUNEVLSEG_CACHE, else ~/.cache/tunevlseg' });
  option(cmd, '--offline', 'use only the cache (fails naming any missing file)');
  option(cmd, '--max-bytes <size>', 'largest file accepted, e.g. 20G', { defaultText: '$TUNEVLSEG_MAX_DOWNLOAD_BYTES, else 10 GiB' });
  flag(cmd, 'quiet', { help: 'no progress bars' });
  examples(cmd, [
    'tunevlseg download CIDAS/clipseg-rd64-refined',
    'tunevlseg download CIDAS/clipseg-rd64 --revision main --cache-dir /data/hub',
  ]);
  cmd.action(async (repo: string, o: { revision?: string; files?: string; cacheDir?: string; offline?: boolean; quiet?: boolean; maxBytes?: string }) => {
    const { cliDownload, parseByteSize } = await import('../hub/index.js');
    await cliDownload(repo, {
      ...(o.maxBytes ? { maxBytes: parseByteSize(o.maxBytes) } : {}),
      ...(o.revision ? { revision: o.revision } : {}),
      ...(o.files ? { files: o.files.split(',').map((f) => f.trim()).filter(Boolean) } : {}),
      ...(o.cacheDir ? { cacheDir: o.cacheDir } : {}),
      ...(o.offline ? { offline: true } : {}),
      quiet: o.quiet === true,
    });
  });
}
