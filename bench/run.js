#!/usr/bin/env node
// `npm run bench -- <name>`: runs dist/bench/<name>.js (compiling first if needed). Every
// benchmark prints human-readable lines and, last, one JSON object with its figures.
import { existsSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const name = process.argv[2];
const list = () =>
  readdirSync(join(root, 'bench'))
    .filter((f) => f.endsWith('.ts') && !f.includes('_'))
    .map((f) => f.replace(/\.ts$/, ''));
if (!name) {
  console.error(`usage: npm run bench -- <name> [args]\nbenchmarks: ${list().join(', ')}`);
  process.exit(2);
}
const target = join(root, 'dist', 'bench', `${name}.js`);
if (!existsSync(target)) {
  const r = spawnSync('npx', ['tsc', '-p', join(root, 'tsconfig.json')], { stdio: 'inherit', cwd: root });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
if (!existsSync(target)) {
  console.error(`no benchmark '${name}' (have: ${list().join(', ')})`);
  process.exit(2);
}
const r = spawnSync(process.execPath, ['--expose-gc', target, ...process.argv.slice(3)], { stdio: 'inherit', cwd: root });
process.exit(r.status ?? 1);
