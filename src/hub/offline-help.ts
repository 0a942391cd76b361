// What to do when a model file is neither in the cache nor reachable: the end of every
// "not in the cache" error. Said once here so that `download` itself (where "run download first"
// is no help) and the commands that resolve a hub id tell the same ways on.
import { repoCachePaths } from './cache.js';
import { shellCommand } from '../util/shell-quote.js';

export interface OfflineHelpContext {
  repo: string;
  revision: string;
  cacheDir: string;
  endpoint: string;
  /** The failing command is `tunevlseg download` itself. */
  inDownload: boolean;
}

/** The download command for `repo@revision`. */
export function downloadCommand(repo: string, revision: string): string {
  return shellCommand(['tunevlseg', 'download', repo, ...(revision === 'main' ? [] : ['--revision', revision])]);
}

/** The ways on without a reachable hub: a local folder, a copied cache, a mirror. */
export function offlineHelp(c: OfflineHelpContext): string {
  const ways = [
    'give the command a local model folder instead (--model <folder with config.json + model.safetensors>)',
    `fill the cache on a machine with network (\`${downloadCommand(c.repo, c.revision)}\`) and copy its ${repoCachePaths(c.cacheDir, c.repo).repoDir} ` +
      'folder to the same place here (the cache: --cache-dir, $TUNEVLSEG_CACHE, default ~/.cache/tunevlseg)',
    `point $HF_ENDPOINT at a hub mirror you can reach (now ${c.endpoint})`,
  ];
  const list = ways.map((w, i) => `(${i + 1}) ${w}`).join('; ');
  return c.inDownload
    ? `To work without network: ${list}.`
    : `With network access: \`${downloadCommand(c.repo, c.revision)}\`. Without it: ${list}.`;
}
