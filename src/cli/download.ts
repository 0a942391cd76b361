// `tunevlseg download <repo-id>`: a model's files into the hub-layout cache (src/hub).
import type { Command } from 'commander';
import type { HubOptions } from '../hub/download.js';
import { downloadProgress, type ProgressStream } from './progress.js';
import { examples, flag, option } from './flags.js';

export interface DownloadCommandOptions extends HubOptions {
  revision?: string;
  files?: readonly string[] | 'default';
  /** No progress output; the snapshot path is still printed. */
  quiet?: boolean;
  /** Where the snapshot path goes (default process.stdout). */
  stdout?: NodeJS.WritableStream;
  /** Where progress goes (default process.stderr): bars on a terminal, one line per file otherwise. */
  stderr?: ProgressStream;
}

/** Downloads `repo` (`org/name[@revision]`) with progress on stderr, prints the snapshot folder and returns it. */
export async function download(repo: string, opts: DownloadCommandOptions = {}): Promise<string> {
  const { quiet, stdout = process.stdout, stderr = process.stderr, ...hubOpts } = opts;
  const { downloadRepo } = await import('../hub/download-repo.js');
  const progress = quiet === true ? undefined : downloadProgress(stderr);
  let dir: string;
  try {
    dir = await downloadRepo(repo, {
      ...hubOpts,
      ...(progress ? { onProgress: (p) => progress.update(p), onSkip: (f, why) => progress.log(`skipped ${f} (${why})`) } : {}),
      // Warnings are printed even with --quiet: a file stored unverified is worth a line.
      onWarning: hubOpts.onWarning ?? ((m) => (progress !== undefined ? progress.log(`warning: ${m}`) : stderr.write(`warning: ${m}\n`))),
    });
  } finally {
    progress?.stop();
  }
  stdout.write(`${dir}\n`);
  return dir;
}

export function registerDownloadCommand(program: Command): void {
  const cmd = program
    .command('download <repo>')
    .description(
      'download a model (e.g. CIDAS/clipseg-rd64-refined) into the cache ($TUNEVLSEG_CACHE, default ~/.cache/tunevlseg); resumes, verifies hashes; $HF_ENDPOINT names a mirror',
    );
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
  cmd.action(
    async (
      repo: string,
      o: { revision?: string; files?: string; cacheDir?: string; offline?: boolean; quiet?: boolean; maxBytes?: string },
    ) => {
      const { parseByteSize } = await import('../hub/download-repo.js');
      await download(repo, {
        ...(o.maxBytes ? { maxBytes: parseByteSize(o.maxBytes) } : {}),
        ...(o.revision ? { revision: o.revision } : {}),
        ...(o.files
          ? {
              files: o.files
                .split(',')
                .map((f) => f.trim())
                .filter(Boolean),
            }
          : {}),
        ...(o.cacheDir ? { cacheDir: o.cacheDir } : {}),
        ...(o.offline ? { offline: true } : {}),
        quiet: o.quiet === true,
      });
    },
  );
}
