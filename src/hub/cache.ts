/**
 * The on-disk cache, laid out like huggingface_hub's so that the two are easy to compare:
 *
 *   <root>/models--<org>--<name>/
 *     blobs/<etag>                 file contents, named by the hub's ETag (sha256 for LFS files,
 *                                  git blob sha1 otherwise); written only by an atomic rename
 *     blobs/<etag>.incomplete      a partial download, resumed with a Range request
 *     snapshots/<commit>/<file>    relative symlink to ../../blobs/<etag> (a copy where symlinks
 *                                  are not allowed)
 *     refs/<revision>              text file holding the commit hash that <revision> resolved to
 *   <root>/.locks/models--<org>--<name>/<etag>.lock   cross-process download lock
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { HubError } from './errors.js';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

/** `$TUNEVLSEG_CACHE` (a leading `~/` is expanded), else `~/.cache/tunevlseg`. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env['TUNEVLSEG_CACHE'];
  if (fromEnv !== undefined && fromEnv.trim() !== '') return path.resolve(expandHome(fromEnv.trim()));
  return path.join(os.homedir(), '.cache', 'tunevlseg');
}

export function expandHome(p: string): string {
  if (p === '~') return os.homedir();
  if (p.startsWith('~/')) return path.join(os.homedir(), p.slice(2));
  return p;
}

/** `$HF_ENDPOINT` without trailing slashes, else https://huggingface.co. */
export function defaultEndpoint(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env['HF_ENDPOINT'];
  const e = fromEnv !== undefined && fromEnv.trim() !== '' ? fromEnv.trim() : DEFAULT_ENDPOINT;
  return e.replace(/\/+$/, '');
}

function truthy(v: string | undefined): boolean {
  return v !== undefined && /^(1|true|yes|on)$/i.test(v.trim());
}

/** `$HF_HUB_OFFLINE` or `$TUNEVLSEG_OFFLINE` set to 1/true/yes/on. */
export function offlineFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return truthy(env['HF_HUB_OFFLINE']) || truthy(env['TUNEVLSEG_OFFLINE']);
}

const REPO_PART = /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9_])?$/;

/** Checks a repo id (`org/name`, or a legacy org-less `name`). */
export function validateRepoId(repo: string): void {
  const parts = repo.split('/');
  const ok =
    parts.length >= 1 &&
    parts.length <= 2 &&
    parts.every((p) => REPO_PART.test(p) && !p.includes('--') && !p.includes('..') && p.length <= 96);
  if (!ok) {
    throw new HubError(
      'INVALID_ARGUMENT',
      `invalid Hugging Face repo id ${JSON.stringify(repo)}: expected "org/name" ` + `(letters, digits, ".", "_", "-"; no "--" or "..")`,
    );
  }
}

/** Checks a file path inside a repo: relative, "/"-separated, no "." / ".." / empty segments. */
export function validateFilename(filename: string): void {
  const segs = filename.split('/');
  const ok =
    filename.length > 0 && !filename.includes('\\') && !filename.includes('\0') && segs.every((s) => s !== '' && s !== '.' && s !== '..');
  if (!ok) {
    throw new HubError(
      'INVALID_ARGUMENT',
      `invalid file name ${JSON.stringify(filename)}: expected a relative path inside the repo ` +
        `such as "config.json" or "subdir/file.bin" (no "..", no leading "/", no "\\")`,
    );
  }
}

/** Checks a revision (branch, tag, `refs/pr/1`, or commit hash); it becomes a path under refs/. */
export function validateRevision(revision: string): void {
  const segs = revision.split('/');
  const ok =
    revision.length > 0 && !revision.includes('\\') && !revision.includes('\0') && segs.every((s) => s !== '' && s !== '.' && s !== '..');
  if (!ok) {
    throw new HubError('INVALID_ARGUMENT', `invalid revision ${JSON.stringify(revision)}: expected a branch, tag or commit hash`);
  }
}

export function isCommitHash(revision: string): boolean {
  return /^[0-9a-f]{40}$/.test(revision);
}

/** `org/name` -> `models--org--name`. */
export function repoFolderName(repo: string): string {
  return ['models', ...repo.split('/')].join('--');
}

export interface RepoCachePaths {
  /** `<root>/models--org--name` */
  repoDir: string;
  blobsDir: string;
  snapshotsDir: string;
  refsDir: string;
  /** `<root>/.locks/models--org--name` */
  locksDir: string;
}

export function repoCachePaths(cacheDir: string, repo: string): RepoCachePaths {
  const folder = repoFolderName(repo);
  const repoDir = path.join(cacheDir, folder);
  return {
    repoDir,
    blobsDir: path.join(repoDir, 'blobs'),
    snapshotsDir: path.join(repoDir, 'snapshots'),
    refsDir: path.join(repoDir, 'refs'),
    locksDir: path.join(cacheDir, '.locks', folder),
  };
}

export function snapshotDir(cacheDir: string, repo: string, commit: string): string {
  return path.join(repoCachePaths(cacheDir, repo).snapshotsDir, commit);
}

export function snapshotFilePath(cacheDir: string, repo: string, commit: string, filename: string): string {
  return path.join(snapshotDir(cacheDir, repo, commit), ...filename.split('/'));
}

export function blobPath(cacheDir: string, repo: string, etag: string): string {
  return path.join(repoCachePaths(cacheDir, repo).blobsDir, etag);
}

export function uniqueSuffix(): string {
  return `${process.pid}.${randomBytes(6).toString('hex')}`;
}

/** The commit hash stored in refs/<revision>, or undefined when there is none (or it is malformed). */
export async function readRef(cacheDir: string, repo: string, revision: string): Promise<string | undefined> {
  const file = path.join(repoCachePaths(cacheDir, repo).refsDir, ...revision.split('/'));
  try {
    const text = (await fsp.readFile(file, 'utf8')).trim();
    return isCommitHash(text) ? text : undefined;
  } catch (e) {
    if (isNodeError(e) && (e.code === 'ENOENT' || e.code === 'ENOTDIR' || e.code === 'EISDIR')) return undefined;
    throw e;
  }
}

/** Atomically writes refs/<revision> (temp file + rename), only when it changes. */
export async function writeRef(cacheDir: string, repo: string, revision: string, commit: string): Promise<void> {
  if (revision === commit) return;
  if ((await readRef(cacheDir, repo, revision)) === commit) return;
  const file = path.join(repoCachePaths(cacheDir, repo).refsDir, ...revision.split('/'));
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${uniqueSuffix()}`;
  await fsp.writeFile(tmp, commit);
  try {
    await fsp.rename(tmp, file);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
}

/**
 * Makes snapshots/<commit>/<filename> point at the blob: a relative symlink, or a copy where
 * symlinks fail. Created under a temporary name and renamed into place, so a reader never sees
 * a half-made entry and two concurrent writers cannot collide.
 */
export async function linkSnapshotFile(blob: string, target: string): Promise<void> {
  await fsp.mkdir(path.dirname(target), { recursive: true });
  const rel = path.relative(path.dirname(target), blob);
  try {
    const st = await fsp.lstat(target);
    if (st.isSymbolicLink()) {
      if ((await fsp.readlink(target)) === rel) return;
    } else if (st.isFile()) {
      const bst = await fsp.stat(blob);
      if (st.size === bst.size) return;
    }
  } catch (e) {
    if (!(isNodeError(e) && e.code === 'ENOENT')) throw e;
  }
  const tmp = `${target}.tmp-${uniqueSuffix()}`;
  try {
    try {
      await fsp.symlink(rel, tmp);
    } catch (e) {
      if (!(isNodeError(e) && ['EPERM', 'EACCES', 'ENOTSUP', 'ENOSYS', 'EINVAL'].includes(e.code ?? ''))) throw e;
      await fsp.copyFile(blob, tmp);
    }
    await fsp.rename(tmp, target);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
}

export interface CacheLookup {
  /** The commit the revision resolved to in the cache, if known. */
  commit: string | undefined;
  /** Path in the snapshot folder, when the file is present there. */
  path: string | undefined;
  /** What was looked at, for error messages. */
  searched: string;
}

/**
 * Finds a file in the cache without the network: a commit hash is used as is, anything else
 * goes through refs/<revision>. A snapshot entry counts only when its blob is really there
 * (a dangling symlink is a miss).
 */
export async function lookupCachedFile(cacheDir: string, repo: string, revision: string, filename: string): Promise<CacheLookup> {
  const { repoDir } = repoCachePaths(cacheDir, repo);
  const commit = isCommitHash(revision) ? revision : await readRef(cacheDir, repo, revision);
  if (commit === undefined) return { commit, path: undefined, searched: repoDir };
  const p = snapshotFilePath(cacheDir, repo, commit, filename);
  try {
    const st = await fsp.stat(p); // follows the symlink
    return { commit, path: st.isFile() ? p : undefined, searched: repoDir };
  } catch (e) {
    if (isNodeError(e) && (e.code === 'ENOENT' || e.code === 'ENOTDIR')) return { commit, path: undefined, searched: repoDir };
    throw e;
  }
}

export function isNodeError(e: unknown): e is NodeJS.ErrnoException {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string';
}
