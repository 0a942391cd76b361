/** Downloading and caching pretrained files in the Hugging Face hub layout. See docs/hub.md. */
export {
  DEFAULT_MAX_DOWNLOAD_BYTES,
  DEFAULT_MODEL_FILES,
  REQUIRED_MODEL_FILES,
  downloadFile,
  downloadHint,
  snapshotDownload,
  type DownloadFileOptions,
  type DownloadProgress,
  type HubOptions,
  type SnapshotDownloadOptions,
} from './download.js';
export { parseRepoRef, resolveModelSource, type RepoRef, type ResolveModelOptions } from './resolve.js';
export { downloadRepo, formatBytes, parseByteSize, type DownloadRepoOptions } from './download-repo.js';
export {
  DEFAULT_ENDPOINT,
  defaultCacheDir,
  defaultEndpoint,
  lookupCachedFile,
  offlineFromEnv,
  repoCachePaths,
  repoFolderName,
  snapshotDir,
  type CacheLookup,
  type RepoCachePaths,
} from './cache.js';
export { HubError, HubHttpError, OfflineCacheMissError, type HubErrorCode } from './errors.js';
export { redactText, redactUrl, urlPassword, urlWithoutPassword, SECRET_ENV_VARS } from '../util/redact.js';
export { shellCommand, shellQuote } from '../util/shell-quote.js';
