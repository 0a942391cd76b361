/**
 * Errors raised by the hub client. Every message names the repo, the revision and the file
 * involved; none ever contains the access token (URLs in messages have their query string
 * removed, since CDN redirects carry signed query strings).
 */

export type HubErrorCode =
  | 'INVALID_ARGUMENT'
  | 'HTTP'
  | 'ENTRY_NOT_FOUND'
  | 'REPO_NOT_FOUND'
  | 'REVISION_NOT_FOUND'
  | 'UNAUTHORIZED'
  | 'HASH_MISMATCH'
  | 'SIZE_MISMATCH'
  | 'TOO_LARGE'
  | 'BAD_RESPONSE'
  | 'NETWORK'
  | 'OFFLINE_CACHE_MISS'
  | 'LOCK_TIMEOUT';

export class HubError extends Error {
  readonly code: HubErrorCode;
  constructor(code: HubErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HubError';
    this.code = code;
  }
}

/** A non-2xx answer from the hub (or the CDN it redirected to). */
export class HubHttpError extends HubError {
  readonly status: number;
  readonly url: string;
  /** The hub's `X-Error-Code` header (EntryNotFound, RepoNotFound, RevisionNotFound, GatedRepo, ...). */
  readonly hubErrorCode: string | undefined;
  constructor(code: HubErrorCode, message: string, info: { status: number; url: string; hubErrorCode: string | undefined }) {
    super(code, message);
    this.name = 'HubHttpError';
    this.status = info.status;
    this.url = info.url;
    this.hubErrorCode = info.hubErrorCode;
  }
}

/** Offline mode (or no network) and the file is not in the cache. */
export class OfflineCacheMissError extends HubError {
  /** What is missing and why, without the ways on. */
  readonly reason: string;
  /** The ways on for `tunevlseg download` itself (no "run download first"; src/hub/offline-help.ts). */
  readonly downloadHelp: string;
  /** `help`: the ways on for any command (src/hub/offline-help.ts). */
  constructor(reason: string, help: { general: string; download: string }, options?: { cause?: unknown }) {
    super('OFFLINE_CACHE_MISS', `${reason} ${help.general}`, options);
    this.name = 'OfflineCacheMissError';
    this.reason = reason;
    this.downloadHelp = help.download;
  }

  /** The message for `tunevlseg download` itself. */
  forDownloadCommand(): string {
    return `${this.reason} ${this.downloadHelp}`;
  }
}
