/**
 * onnxruntime-node, loaded on demand: it is an optional install (about 290 MB; see README,
 * "Exporting to ONNX"), so nothing else in tunevlseg needs it. `OnnxSegmenter` runs an export
 * folder's model.onnx as a `LogitsModel` for `predictFolder`.
 */
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { LogitsModel } from '../inference/forward.js';
import type { SegmenterInfo } from '../tuning/segmenter.js';
import { ONNX_INPUT, type PreprocessJson, readPreprocess } from './preprocess.js';

/** The slice of onnxruntime-node's API used here (its types live in the optional package). */
interface OrtTensor {
  data: Float32Array | Uint8Array;
  dims: readonly number[];
}
export interface OrtSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release?(): Promise<void>;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** onnxruntime >= 1.22: each input's name and (for tensors) shape. */
  readonly inputMetadata?: readonly { name: string; isTensor: boolean; shape?: readonly (number | string)[] }[];
}
export interface OrtModule {
  InferenceSession: { create(model: string | Uint8Array, options?: Record<string, unknown>): Promise<OrtSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensor;
}

/** onnxruntime-node, or an error that says how to install it. */
export async function loadOnnxRuntime(): Promise<OrtModule> {
  const name = 'onnxruntime-node';
  try {
    const m = (await import(name)) as { default?: OrtModule } & OrtModule;
    return m.default ?? m;
  } catch (e) {
    throw new Error(
      `onnxruntime-node is not installed (${(e as Error).message.split('\n')[0]}). It is an optional dependency that \`npm ci\` ` +
        'installs (`bash scripts/bootstrap.sh` runs it); it is missing after `npm ci --omit=optional` or a failed install (README, "Exporting to ONNX")',
    );
  }
}

/**
 * preprocess.json's `size` must be the side model.onnx takes ([batch, 3, size, size]): a wrong
 * size would fail later, blamed on an image. Symbolic dimensions (a model exported with a
 * dynamic side) accept any size.
 */
function checkInputSize(session: OrtSession, model: string, preFile: string, size: number): void {
  const meta = session.inputMetadata?.find((m) => m.name === ONNX_INPUT);
  if (!meta || meta.isTensor === false || !meta.shape) return;
  const [, c, h, w] = meta.shape;
  const fixed = (d: number | string | undefined): d is number => typeof d === 'number' && d > 0;
  if ((fixed(h) && h !== size) || (fixed(w) && w !== size) || (fixed(c) && c !== 3)) {
    throw new Error(
      `${preFile}: size ${size} does not fit ${model}, whose input "${ONNX_INPUT}" is [${meta.shape.join(', ')}]; ` +
        'the two files come from different exports (export the model again)',
    );
  }
}

export interface OnnxSessionOptions {
  /** Intra-op threads (default: onnxruntime's choice, all cores). */
  threads?: number;
}

/** An export folder's model.onnx in onnxruntime-node, as a LogitsModel. */
export class OnnxSegmenter implements LogitsModel {
  private constructor(
    readonly dir: string,
    readonly preprocess: PreprocessJson,
    readonly info: SegmenterInfo,
    private readonly session: OrtSession,
    private readonly ort: OrtModule,
  ) {}

  static async open(dir: string, o: OnnxSessionOptions = {}): Promise<OnnxSegmenter> {
    const model = join(dir, 'model.onnx');
    if (!existsSync(model)) throw new Error(`${dir}: no model.onnx (give a folder written by \`tunevlseg export\`)`);
    const preFile = join(dir, 'preprocess.json');
    const pre = readPreprocess(preFile);
    const bytes = readFileSync(model);
    if (bytes.byteLength === 0) throw new Error(`${model}: empty file (0 bytes); export the model again`);
    const ort = await loadOnnxRuntime();
    let session: OrtSession;
    try {
      session = await ort.InferenceSession.create(bytes, {
        graphOptimizationLevel: 'all',
        ...(o.threads ? { intraOpNumThreads: o.threads, interOpNumThreads: 1 } : {}),
      });
    } catch (e) {
      // onnxruntime's own words ("protobuf parsing failed", "Model data pointer is null") name no file.
      throw new Error(`${model}: not a loadable ONNX model (${bytes.byteLength} bytes; truncated or not ONNX?): ${(e as Error).message}`);
    }
    checkInputSize(session, model, preFile, pre.size);
    return new OnnxSegmenter(dir, pre, { imageSize: pre.size, mean: pre.mean, std: pre.std }, session, ort);
  }

  async logits(images: Float32Array, batch: number, size: number): Promise<Float32Array> {
    if (size !== this.preprocess.size) throw new Error(`${this.dir}: the model takes ${this.preprocess.size}px images, got ${size}px`);
    const input = images.subarray(0, batch * 3 * size * size);
    const out = await this.session.run({ [ONNX_INPUT]: new this.ort.Tensor('float32', input, [batch, 3, size, size]) });
    const l = out.logits;
    if (!l) throw new Error(`${this.dir}/model.onnx has no "logits" output`);
    return l.data as Float32Array;
  }

  async dispose(): Promise<void> {
    await this.session.release?.();
  }
}
