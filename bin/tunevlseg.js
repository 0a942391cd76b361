#!/usr/bin/env node
// The `tunevlseg` command (compiled CLI in dist/).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const main = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
if (!existsSync(main)) {
  console.error('tunevlseg is not built yet: run `bash scripts/bootstrap.sh` (or `npm run build:native && npm run build`).');
  process.exit(1);
}
await import(main);
