/**
 * Writing a dataset folder all at once: files go to a hidden sibling folder, which is renamed
 * to the output only when everything is written. A failure, an exception or Ctrl-C removes it,
 * so the output is either absent or complete, never half-written.
 */
import { constants, promises as fs, rmSync } from 'node:fs';
import path from 'node:path';

export class StagingDir {
  readonly out: string;
  readonly dir: string;
  private readonly onSignal: () => void;
  private closed = false;

  private constructor(out: string, dir: string) {
    this.out = out;
    this.dir = dir;
    this.onSignal = () => {
      rmSync(this.dir, { recursive: true, force: true });
      process.exit(130);
    };
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
  }

  /**
   * Refuses an existing non-empty output, unless `replace` (the caller decided it may go: an
   * earlier output of the same command, or an explicit --overwrite); the staging folder sits
   * next to it (same file system, so rename is atomic).
   */
  static async create(out: string, opts: { replace?: boolean } = {}): Promise<StagingDir> {
    const abs = path.resolve(out);
    const entries = await fs.readdir(abs).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? null : Promise.reject(err)));
    if (entries !== null && entries.length > 0 && opts.replace !== true) {
      throw new Error(`${abs} already exists and is not empty; remove it or choose another --out`);
    }
    await fs.mkdir(path.dirname(abs), { recursive: true });
    const dir = await fs.mkdtemp(path.join(path.dirname(abs), `.${path.basename(abs)}.partial-`));
    return new StagingDir(abs, dir);
  }

  /** Writes a file under the staging folder (creating its folders). */
  async write(rel: string, data: Buffer | string): Promise<void> {
    const file = path.join(this.dir, rel);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, data);
  }

  /** Copies a file under the staging folder (a reflink where the file system has them). */
  async copy(src: string, rel: string): Promise<void> {
    const file = path.join(this.dir, rel);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.copyFile(src, file, constants.COPYFILE_FICLONE);
  }

  async commit(): Promise<void> {
    this.detach();
    // An empty output folder (allowed by create) is replaced.
    await fs.rmdir(this.out).catch(() => undefined);
    // A non-empty one (create's `replace`) is moved aside first and deleted once the new one is
    // in place; if the rename fails it is put back.
    let aside: string | null = null;
    try {
      await fs.access(this.out);
      aside = `${path.join(path.dirname(this.out), `.${path.basename(this.out)}.replaced-`)}${process.pid}-${Date.now()}`;
      await fs.rename(this.out, aside);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    try {
      await fs.rename(this.dir, this.out);
    } catch (err) {
      if (aside !== null) await fs.rename(aside, this.out).catch(() => undefined);
      throw err;
    }
    if (aside !== null) await fs.rm(aside, { recursive: true, force: true });
  }

  async abort(): Promise<void> {
    this.detach();
    await fs.rm(this.dir, { recursive: true, force: true });
  }

  private detach(): void {
    if (this.closed) return;
    this.closed = true;
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }
}
