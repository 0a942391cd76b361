// The export's static web page: index.html + app.js (src/export/web-assets), onnxruntime-web's
// WASM build copied from node_modules (no CDN), and the model and preprocess.json beside them
// (model.onnx hard-linked when the filesystem allows, so it costs no space), so web/ alone is
// a complete site.
import { copyFileSync, existsSync, linkSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { packageRoot } from '../util/package-root.js';

/** The onnxruntime-web files the page loads (the WASM-only ESM build and its single runtime). */
export const ORT_WEB_FILES = ['ort.wasm.min.mjs', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm'];
export const WEB_ASSETS = ['index.html', 'app.js'];

function ortWebDist(): string {
  let main: string;
  try {
    main = createRequire(import.meta.url).resolve('onnxruntime-web');
  } catch {
    throw new Error(
      'onnxruntime-web is not installed: the web page needs its WASM files. It is an optional dependency that `npm ci` ' +
        'installs (`bash scripts/bootstrap.sh` runs it); it is missing after `npm ci --omit=optional` or a failed install (README, "Exporting to ONNX")',
    );
  }
  let d = dirname(main);
  while (!existsSync(join(d, 'package.json')) && dirname(d) !== d) d = dirname(d);
  return join(d, 'dist');
}

/** Writes `<outDir>/web/` next to an export's model.onnx and preprocess.json. */
export function writeWebPage(outDir: string): string {
  const web = join(outDir, 'web');
  mkdirSync(web, { recursive: true });
  const dist = ortWebDist();
  for (const f of ORT_WEB_FILES) {
    if (!existsSync(join(dist, f))) throw new Error(`onnxruntime-web: ${join(dist, f)} missing (expected onnxruntime-web 1.30's dist/)`);
    copyFileSync(join(dist, f), join(web, f));
  }
  const assets = join(packageRoot, 'src', 'export', 'web-assets');
  for (const f of WEB_ASSETS) copyFileSync(join(assets, f), join(web, f));
  copyFileSync(join(outDir, 'preprocess.json'), join(web, 'preprocess.json'));
  const model = join(web, 'model.onnx');
  rmSync(model, { force: true });
  try {
    linkSync(join(outDir, 'model.onnx'), model);
  } catch {
    copyFileSync(join(outDir, 'model.onnx'), model);
  }
  return web;
}
