// The package root (the folder holding package.json and native/binding.gyp), found from this
// file's place in src/ or dist/src/: where the native addons, the demo assets and the web
// assets live. No addon is loaded here, so any layer may import it.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';

function findPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'native', 'binding.gyp'))) return dir;
    dir = resolve(dir, '..');
  }
  throw new Error('tunevlseg: cannot find the package root (native/binding.gyp) above ' + fileURLToPath(import.meta.url));
}

export const packageRoot = findPackageRoot();

let version: string | undefined;
/** This package's version (package.json's), as checkpoints and `--version` record it. */
export function tunevlsegVersion(): string {
  if (version === undefined) {
    try {
      version = (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
    } catch {
      version = 'unknown';
    }
  }
  return version;
}
