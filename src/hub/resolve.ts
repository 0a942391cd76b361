/** resolveModelSource: a local model folder, or a hub repo id (`org/name[@revision]`) -> a folder. */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { expandHome, isNodeError, validateRepoId, validateRevision } from './cache.js';
import { snapshotDownload, type DownloadProgress, type HubOptions } from './download.js';
import { HubError } from './errors.js';

export interface RepoRef {
  repo: string;
  revision: string | undefined;
}

const REPO_REF = /^([A-Za-z0-9][A-Za-z0-9._-]*)\/([A-Za-z0-9][A-Za-z0-9._-]*)(?:@(.+))?$/;

/** Parses `org/name` or `org/name@revision`; undefined when `s` does not have that shape or is invalid. */
export function parseRepoRef(s: string): RepoRef | undefined {
  const m = REPO_REF.exec(s.trim());
  if (m === null) return undefined;
  const repo = `${m[1]}/${m[2]}`;
  const revision = m[3];
  try {
    validateRepoId(repo);
    if (revision !== undefined) validateRevision(revision);
  } catch {
    return undefined;
  }
  return { repo, revision };
}

export interface ResolveModelOptions extends HubOptions {
  /** Files to fetch for a repo id (default: 'default', CLIPSeg's file set). */
  files?: readonly string[] | 'default';
  onProgress?: (p: DownloadProgress) => void;
  onSkip?: (filename: string, reason: string) => void;
}

/**
 * Turns a model source into a local folder:
 *   - an existing folder (`~/` expanded) is returned as an absolute path, untouched;
 *   - `org/name` or `org/name@revision` returns its snapshot folder in the cache, downloading the
 *     missing files unless offline (offline, a cache miss throws an error saying how to download).
 * Anything else is an error that says which forms are accepted.
 */
export async function resolveModelSource(idOrDir: string, opts: ResolveModelOptions = {}): Promise<string> {
  const source = idOrDir.trim();
  if (source === '') {
    throw new HubError(
      'INVALID_ARGUMENT',
      'empty model source: expected a model folder or a hub repo id like "CIDAS/clipseg-rd64-refined"',
    );
  }
  const local = path.resolve(expandHome(source));
  try {
    const st = await fsp.stat(local);
    if (st.isDirectory()) return local;
    throw new HubError(
      'INVALID_ARGUMENT',
      `model source ${JSON.stringify(idOrDir)} is a file (${local}); expected a folder holding config.json and ` +
        `model.safetensors, or a hub repo id like "CIDAS/clipseg-rd64-refined"`,
    );
  } catch (e) {
    if (e instanceof HubError) throw e;
    if (!(isNodeError(e) && (e.code === 'ENOENT' || e.code === 'ENOTDIR'))) throw e;
  }
  const looksLikePath = /^(\.{1,2}|~)?[\\/]/.test(source) || source.startsWith('.') || source.includes('\\');
  const ref = looksLikePath ? undefined : parseRepoRef(source);
  if (ref === undefined) {
    throw new HubError(
      'INVALID_ARGUMENT',
      `model source ${JSON.stringify(idOrDir)} is neither an existing folder (looked for ${local}) nor a Hugging Face ` +
        `repo id of the form "org/name" or "org/name@revision" (e.g. "CIDAS/clipseg-rd64-refined")`,
    );
  }
  const snapOpts: Parameters<typeof snapshotDownload>[0] = { ...opts, repo: ref.repo, files: opts.files ?? 'default' };
  if (ref.revision !== undefined) snapOpts.revision = ref.revision;
  return snapshotDownload(snapOpts);
}
