// `tunevlseg download <repo-id>`: a model's files into the hub-layout cache (src/hub).
import type { Command } from 'commander';
import { cliDownload, parseByteSize } from '../hub/index.js';

export function registerDownloadCommand(program: Command): void {
  program.command('download <repo>')
    .description('download a model (e.g. CIDAS/clipseg-rd64-refined) into the cache ($TUNEVLSEG_CACHE, default ~/.cache/tunevlseg); resumes, verifies hashes')
    .option('--revision <rev>', 'branch, tag or commit', undefined)
    .option('--files <list>', 'comma-separated file names (default: config, weights, tokenizer files)')
    .option('--cache-dir <dir>', 'cache folder')
    .option('--offline', 'use only the cache (fails naming any missing file)')
    .option('--max-bytes <size>', 'largest file accepted, e.g. 20G (default $TUNEVLSEG_MAX_DOWNLOAD_BYTES, else 10 GiB)')
    .option('-q, --quiet', 'no progress bars')
    .action(async (repo: string, o: { revision?: string; files?: string; cacheDir?: string; offline?: boolean; quiet?: boolean; maxBytes?: string }) => {
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
