// Where the demo's shipped files live: <package root>/assets/demo (the tiny base model and its
// vocabulary, made by `tunevlseg pretrain`; docs/demo.md). Compiled to dist/src/demo/assets.js.
import path from 'node:path';
import { packageRoot } from '../util/package-root.js';

/** assets/demo: config.json, model.safetensors, vocab.json, merges.txt, tokenizer_config.json. */
export function demoAssetsDir(): string {
  return path.join(packageRoot, 'assets', 'demo');
}
