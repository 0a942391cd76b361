// Atomic file writes: chunks go to a temporary file in the same folder, which is fsync'ed and
// renamed over the target (then the folder is fsync'ed, best effort). A crash mid-write never
// leaves a torn file under the target name. Used by safetensors and by training checkpoints.
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

const WRITE_CHUNK = 1 << 30;

function writeFully(fd: number, data: Uint8Array): void {
  let done = 0;
  while (done < data.byteLength) done += writeSync(fd, data, done, Math.min(WRITE_CHUNK, data.byteLength - done));
}

/** Writes the chunks, in order, atomically to `path`; throws the underlying fs error. */
export function writeChunksAtomic(path: string, chunks: readonly Uint8Array[], opts: { mkdir?: boolean } = {}): void {
  const dir = dirname(path);
  if (opts.mkdir) mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', 0o666);
    for (const c of chunks) writeFully(fd, c);
    fsyncSync(fd);
    const open = fd;
    fd = undefined;
    closeSync(open);
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // already failing
      }
    }
    try {
      unlinkSync(tmp);
    } catch {
      // may not exist
    }
    throw e;
  }
  // Make the rename durable (best effort: not every platform can fsync a folder).
  try {
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // ignore
  }
}

/** Writes a text or byte file atomically (creating its folder); the error names the file. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  try {
    writeChunksAtomic(file, [typeof data === 'string' ? Buffer.from(data, 'utf8') : data], { mkdir: true });
  } catch (e) {
    throw new Error(`${file}: cannot write file: ${(e as Error).message}`, { cause: e });
  }
}
