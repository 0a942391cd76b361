// Shared test helpers: locating the repository and the shared fixtures.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const p = join(d, 'package.json');
    if (existsSync(p) && (JSON.parse(readFileSync(p, 'utf8')) as { name?: string }).name === 'tunevlseg') return d;
    d = resolve(d, '..');
  }
  throw new Error('cannot find the tunevlseg repository root');
}

export const sharedDir = (): string => resolve(repoRoot(), '..', 'shared');
export const fixturesDir = (): string => join(sharedDir(), 'fixtures');
