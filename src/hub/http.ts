/**
 * The HTTP side: the hub's `resolve` URLs, its metadata headers, redirects, errors.
 *
 * `HEAD <endpoint>/<repo>/resolve/<revision>/<file>` answers, for a plain (git) file, 200 with
 * `ETag` (git blob sha1), `Content-Length` and `X-Repo-Commit`; for an LFS file, a 302 to a CDN
 * with `X-Linked-Etag` (the sha256), `X-Linked-Size` and `X-Repo-Commit`. Relative redirects
 * (a renamed repo) are followed. Redirects are always followed by hand so that the token is sent
 * to the hub's own origin only, never to the CDN (signed URLs carry their own credentials).
 */
import { HubError, HubHttpError } from './errors.js';
import { redactUrl as redact } from '../util/redact.js';

/** Hub URLs in messages: no credentials, and no (signed, long) query string. */
const redactUrl = (url: string): string => redact(url, { query: 'drop' });

export const USER_AGENT = `tunevlseg/0.1.0; node/${process.versions.node}`;
const MAX_REDIRECTS = 10;

export interface RequestContext {
  /** The hub endpoint; the token goes to this origin only. */
  endpoint: string;
  token: string | undefined;
  /** For messages: what is being fetched. */
  what: { repo: string; revision: string; filename: string };
}

export interface FileMetadata {
  commit: string;
  /** sha256 (LFS) or git blob sha1, lower-case hex, quotes and W/ removed. */
  etag: string;
  size: number | undefined;
  /** Where to GET the bytes (the CDN location for LFS files). */
  downloadUrl: string;
}

export function resolveUrl(endpoint: string, repo: string, revision: string, filename: string): string {
  const file = filename.split('/').map(encodeURIComponent).join('/');
  return `${endpoint}/${repo}/resolve/${encodeURIComponent(revision)}/${file}`;
}

function headersFor(url: string, ctx: RequestContext, extra: Record<string, string>): Record<string, string> {
  const h: Record<string, string> = { 'user-agent': USER_AGENT, 'accept-encoding': 'identity', ...extra };
  if (ctx.token !== undefined && sameOrigin(url, ctx.endpoint)) h['authorization'] = `Bearer ${ctx.token}`;
  return h;
}

function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}

export function normalizeEtag(etag: string | null): string | undefined {
  if (etag === null) return undefined;
  const e = etag
    .trim()
    .replace(/^W\//, '')
    .replace(/^"(.*)"$/, '$1');
  return e === '' ? undefined : e;
}

function describe(ctx: RequestContext): string {
  const { repo, revision, filename } = ctx.what;
  return `${JSON.stringify(filename)} of ${repo}@${revision}`;
}

/** Turns a failed response into a HubHttpError naming the file, repo and revision. */
export async function httpError(res: Response, url: string, ctx: RequestContext): Promise<HubHttpError> {
  const hubCode = res.headers.get('x-error-code') ?? undefined;
  let hubMessage = res.headers.get('x-error-message') ?? undefined;
  if (hubMessage === undefined && res.body !== null) {
    const text = await res.text().catch(() => '');
    if (text.length > 0 && text.length < 500 && !/^\s*</.test(text)) hubMessage = text.trim();
  } else {
    await res.body?.cancel().catch(() => undefined);
  }
  const where = redactUrl(url);
  const detail = hubMessage !== undefined ? ` (${hubMessage})` : '';
  const { repo, revision, filename } = ctx.what;
  const info = { status: res.status, url: where, hubErrorCode: hubCode };
  if (res.status === 404 || hubCode === 'EntryNotFound') {
    if (hubCode === 'RepoNotFound') {
      return new HubHttpError('REPO_NOT_FOUND', `repo ${repo} not found on ${ctx.endpoint} (404 at ${where})${detail}`, info);
    }
    if (hubCode === 'RevisionNotFound') {
      return new HubHttpError(
        'REVISION_NOT_FOUND',
        `revision ${JSON.stringify(revision)} not found in ${repo} (404 at ${where})${detail}`,
        info,
      );
    }
    return new HubHttpError(
      'ENTRY_NOT_FOUND',
      `file ${JSON.stringify(filename)} not found in ${repo}@${revision} (404 at ${where})${detail}`,
      info,
    );
  }
  if ((res.status === 401 || res.status === 403) && !sameOrigin(url, ctx.endpoint)) {
    return new HubHttpError(
      'HTTP',
      `${res.status} ${res.statusText} from the download server for ${describe(ctx)} at ${where} ` +
        `(the hub redirected there; its signed link may have expired): try again${detail}`,
      info,
    );
  }
  if (res.status === 401 || res.status === 403) {
    const tokenNote =
      ctx.token === undefined
        ? 'no token was sent; set $HF_TOKEN if the repo is private or gated'
        : 'a token was sent (from $HF_TOKEN or the token option); check it has access to this repo';
    return new HubHttpError(
      res.status === 401 && hubCode === 'RepoNotFound' ? 'REPO_NOT_FOUND' : 'UNAUTHORIZED',
      `${res.status} ${res.statusText || 'Unauthorized'} for ${describe(ctx)} at ${where}: the repo may not exist, ` +
        `or be private or gated (${tokenNote})${detail}`,
      info,
    );
  }
  return new HubHttpError('HTTP', `HTTP ${res.status} ${res.statusText} for ${describe(ctx)} at ${where}${detail}`, info);
}

/** A failure to talk to the server at all (DNS, refused, reset, timeout). */
export function networkError(e: unknown, url: string, ctx: RequestContext): HubError {
  const cause = e instanceof Error ? (e.cause instanceof Error ? `${e.message}: ${e.cause.message}` : e.message) : String(e);
  return new HubError('NETWORK', `cannot reach ${redactUrl(url)} for ${describe(ctx)}: ${cause}`, { cause: e });
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

/**
 * HEAD the resolve URL and read commit, etag, size and download location. Stops at a redirect
 * that carries `X-Linked-Etag` (the LFS pattern: the CDN does not know the commit); follows
 * others (renamed repos).
 */
export async function fetchMetadata(url: string, ctx: RequestContext, timeoutMs: number): Promise<FileMetadata> {
  let current = url;
  let commit: string | undefined;
  let linkedEtag: string | undefined;
  let linkedSize: string | undefined;
  for (let hop = 0; ; hop++) {
    let res: Response;
    try {
      res = await fetch(current, {
        method: 'HEAD',
        redirect: 'manual',
        headers: headersFor(current, ctx, {}),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (e) {
      throw networkError(e, current, ctx);
    }
    commit ??= res.headers.get('x-repo-commit') ?? undefined;
    linkedEtag ??= normalizeEtag(res.headers.get('x-linked-etag'));
    linkedSize ??= res.headers.get('x-linked-size') ?? undefined;
    if (isRedirect(res.status)) {
      const loc = res.headers.get('location');
      if (loc === null) throw await httpError(res, current, ctx);
      const next = new URL(loc, current).toString();
      if (linkedEtag !== undefined) return finish(next, undefined, undefined);
      if (hop >= MAX_REDIRECTS) {
        throw new HubError('BAD_RESPONSE', `too many redirects for ${describe(ctx)} (last: ${redactUrl(current)})`);
      }
      current = next;
      continue;
    }
    if (!res.ok) throw await httpError(res, current, ctx);
    return finish(current, normalizeEtag(res.headers.get('etag')), res.headers.get('content-length') ?? undefined);
  }

  function finish(downloadUrl: string, etag: string | undefined, contentLength: string | undefined): FileMetadata {
    const finalEtag = linkedEtag ?? etag;
    const sizeText = linkedSize ?? contentLength;
    const where = redactUrl(url);
    if (commit === undefined || !/^[0-9a-f]{40}$/.test(commit)) {
      throw new HubError(
        'BAD_RESPONSE',
        `${where} gave no valid X-Repo-Commit header for ${describe(ctx)} ` +
          `(got ${JSON.stringify(commit ?? null)}); is ${ctx.endpoint} a Hugging Face hub endpoint?`,
      );
    }
    if (finalEtag === undefined || !/^[A-Za-z0-9_.-]{1,128}$/.test(finalEtag) || finalEtag.startsWith('.')) {
      throw new HubError(
        'BAD_RESPONSE',
        `${where} gave no usable ETag / X-Linked-Etag for ${describe(ctx)} (got ${JSON.stringify(finalEtag ?? null)})`,
      );
    }
    let size: number | undefined;
    if (sizeText !== undefined) {
      size = Number(sizeText);
      if (!Number.isSafeInteger(size) || size < 0) {
        throw new HubError('BAD_RESPONSE', `${where} gave an invalid size ${JSON.stringify(sizeText)} for ${describe(ctx)}`);
      }
    }
    return { commit, etag: finalEtag, size, downloadUrl };
  }
}

/** GET following redirects by hand (the token goes to the endpoint's origin only). */
export async function fetchFollowing(
  url: string,
  ctx: RequestContext,
  extraHeaders: Record<string, string>,
  signal?: AbortSignal,
): Promise<{ res: Response; url: string }> {
  let current = url;
  for (let hop = 0; ; hop++) {
    let res: Response;
    try {
      const init: RequestInit = { method: 'GET', redirect: 'manual', headers: headersFor(current, ctx, extraHeaders) };
      if (signal !== undefined) init.signal = signal;
      res = await fetch(current, init);
    } catch (e) {
      throw networkError(e, current, ctx);
    }
    if (!isRedirect(res.status)) return { res, url: current };
    const loc = res.headers.get('location');
    if (loc === null) throw await httpError(res, current, ctx);
    await res.body?.cancel().catch(() => undefined);
    if (hop >= MAX_REDIRECTS) {
      throw new HubError('BAD_RESPONSE', `too many redirects for ${describe(ctx)} (last: ${redactUrl(current)})`);
    }
    current = new URL(loc, current).toString();
  }
}
