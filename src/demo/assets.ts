// Where the demo's shipped files live: <package root>/assets/demo (the tiny base model and its
// vocabulary, made by `tunevlseg pretrain`; docs/demo.md). Compiled to dist/src/demo/assets.js.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** The package root (the folder holding package.json). */
export function packageRoot(): string {
  for (const rel of ['../../../', '../../']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(path.join(dir, 'package.json'))) return path.resolve(dir);
  }
  throw new Error(`tunevlseg: cannot locate the package root from ${fileURLToPath(import.meta.url)}`);
}

/** assets/demo: config.json, model.safetensors, vocab.json, merges.txt, tokenizer_config.json. */
export function demoAssetsDir(): string {
  return path.join(packageRoot(), 'assets', 'demo');
}
