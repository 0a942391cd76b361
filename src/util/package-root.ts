// The package root (the folder holding package.json and native/binding.gyp), found from this
// file's place in src/ or dist/src/: where the native addons, the demo assets and the web
// assets live. No addon is loaded here, so any layer may import it.
import { existsSync } from 'node:fs';
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
