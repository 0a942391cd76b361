// The export's web page: runs model.onnx with onnxruntime-web (WASM, single-threaded so that no
// cross-origin isolation is needed), every file served from this folder. It follows
// preprocess.json as `tunevlseg predict --onnx` does; the one difference is the resize of the
// input image (the browser's high-quality canvas scaling instead of OpenCV's INTER_CUBIC), so images
// at the model's size give the same masks.
import * as ort from './ort.wasm.min.mjs';

ort.env.wasm.wasmPaths = new URL('./', import.meta.url).href;
ort.env.wasm.numThreads = 1;
ort.env.wasm.proxy = false;

const $ = (id) => document.getElementById(id);
const status = (text, error = false) => {
  $('status').textContent = text;
  $('status').className = error ? 'error' : '';
};

/** Bilinear resize with half-pixel centres (as tunevlseg's resizeBilinear). */
function resizeBilinear(src, w, h, outW, outH) {
  const out = new Float32Array(outW * outH);
  const sx = w / outW,
    sy = h / outH;
  for (let y = 0; y < outH; y++) {
    const fy = Math.max((y + 0.5) * sy - 0.5, 0);
    const y0 = Math.min(Math.floor(fy), h - 1),
      y1 = Math.min(y0 + 1, h - 1),
      wy = fy - y0;
    for (let x = 0; x < outW; x++) {
      const fx = Math.max((x + 0.5) * sx - 0.5, 0);
      const x0 = Math.min(Math.floor(fx), w - 1),
        x1 = Math.min(x0 + 1, w - 1),
        wx = fx - x0;
      const top = src[y0 * w + x0] * (1 - wx) + src[y0 * w + x1] * wx;
      const bot = src[y1 * w + x0] * (1 - wx) + src[y1 * w + x1] * wx;
      out[y * outW + x] = top * (1 - wy) + bot * wy;
    }
  }
  return out;
}

/** round(p·255) as a byte (float32 arithmetic, as tunevlseg's quantize8). */
function quantize8(p) {
  const out = new Uint8Array(p.length);
  for (let i = 0; i < p.length; i++) {
    const v = Math.fround(Math.fround(p[i] * 255) + 0.5);
    out[i] = v >= 255 ? 255 : v > 0 ? Math.trunc(v) : 0;
  }
  return out;
}

async function main() {
  if (location.protocol === 'file:') return; // index.html says how to open the page instead
  const pre = await (await fetch('preprocess.json')).json();
  $('prompt').textContent = pre.prompt;
  const t0 = performance.now();
  const session = await ort.InferenceSession.create('model.onnx', { executionProviders: ['wasm'] });
  $('meta').textContent = `${pre.size}×${pre.size} input, ${pre.weights} weights; model loaded in ${Math.round(performance.now() - t0)} ms`;
  $('file').disabled = false;
  document.body.dataset.state = 'ready';
  $('file').addEventListener('change', async (ev) => {
    const file = ev.target.files[0];
    if (!file) return;
    document.body.dataset.state = 'running';
    status('running…');
    try {
      window.tvsResult = await segment(session, pre, await createImageBitmap(file));
      status(
        `done: ${window.tvsResult.ms.toFixed(0)} ms (inference ${window.tvsResult.inferenceMs.toFixed(0)} ms), ${window.tvsResult.foreground} foreground pixels`,
      );
      document.body.dataset.state = 'done';
    } catch (e) {
      status(`error: ${e.message}`, true);
      document.body.dataset.state = 'error';
    }
  });
}

async function segment(session, pre, bitmap) {
  const t0 = performance.now();
  const S = pre.size,
    W = bitmap.width,
    H = bitmap.height;
  const small = new OffscreenCanvas(S, S).getContext('2d');
  small.imageSmoothingQuality = 'high';
  small.drawImage(bitmap, 0, 0, S, S);
  const px = small.getImageData(0, 0, S, S).data;
  const input = new Float32Array(3 * S * S);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < S * S; i++) input[c * S * S + i] = (px[i * 4 + c] / 255 - pre.mean[c]) / pre.std[c];
  }
  const t1 = performance.now();
  const out = await session.run({ [pre.input]: new ort.Tensor('float32', input, [1, 3, S, S]) });
  const inferenceMs = performance.now() - t1;
  const prob8 = quantize8(W === S && H === S ? out.probabilities.data : resizeBilinear(out.probabilities.data, S, S, W, H));
  const level = pre.threshold * 255;
  const mask = new Uint8Array(W * H);
  let foreground = 0;
  for (let i = 0; i < mask.length; i++)
    if (prob8[i] > level) {
      mask[i] = 255;
      foreground++;
    }

  const ov = $('overlay');
  ov.width = W;
  ov.height = H;
  const octx = ov.getContext('2d');
  octx.drawImage(bitmap, 0, 0);
  const img = octx.getImageData(0, 0, W, H);
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    img.data[i * 4] = Math.round(img.data[i * 4] * 0.5 + 255 * 0.5);
    img.data[i * 4 + 1] = Math.round(img.data[i * 4 + 1] * 0.5);
    img.data[i * 4 + 2] = Math.round(img.data[i * 4 + 2] * 0.5);
  }
  octx.putImageData(img, 0, 0);
  const pc = $('prob');
  pc.width = W;
  pc.height = H;
  const pctx = pc.getContext('2d');
  const pimg = pctx.createImageData(W, H);
  for (let i = 0; i < prob8.length; i++) {
    pimg.data[i * 4] = pimg.data[i * 4 + 1] = pimg.data[i * 4 + 2] = prob8[i];
    pimg.data[i * 4 + 3] = 255;
  }
  pctx.putImageData(pimg, 0, 0);
  return { width: W, height: H, mask: Array.from(mask), foreground, inferenceMs, ms: performance.now() - t0 };
}

main().catch((e) => {
  status(`error: ${e.message}`, true);
  document.body.dataset.state = 'error';
});
