/**
 * onnxruntime-node, loaded on demand: it is an optional install (about 290 MB; see README,
 * "Exporting to ONNX"), so nothing else in tunevlseg needs it. `OnnxSegmenter` runs an export
 * folder's model.onnx as a `LogitsModel` for `predictFolder`.
 */
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { LogitsModel } from '../train/evaluate.js';
import type { SegmenterInfo } from '../tuning/segmenter.js';
import { ONNX_INPUT, type PreprocessJson, readPreprocess } from './preprocess.js';

/** The slice of onnxruntime-node's API used here (its types live in the optional package). */
interface OrtTensor { data: Float32Array | Uint8Array; dims: readonly number[] }
export interface OrtSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release?(): Promise<void>;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
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
    throw new Error(`onnxruntime-node is not installed (${(e as Error).message.split('\n')[0]}). It is optional: install it with ` +
      '`scripts/bootstrap.sh --export` or `ONNXRUNTIME_NODE_INSTALL=skip npm install --no-save onnxruntime-node@1.30.0` (README, "Exporting to ONNX")');
  }
}

export interface OnnxSessionOptions {
  /** Intra-op threads (default: onnxruntime's choice, all cores). */
  threads?: number;
}

/** An export folder's model.onnx in onnxruntime-node, as a LogitsModel. */
export class OnnxSegmenter implements LogitsModel {
  private constructor(readonly dir: string, readonly preprocess: PreprocessJson, readonly info: SegmenterInfo, private readonly session: OrtSession, private readonly ort: OrtModule) {}

  static async open(dir: string, o: OnnxSessionOptions = {}): Promise<OnnxSegmenter> {
    const model = join(dir, 'model.onnx');
    if (!existsSync(model)) throw new Error(`${dir}: no model.onnx (give a folder written by \`tunevlseg export\`)`);
    const pre = readPreprocess(join(dir, 'preprocess.json'));
    const ort = await loadOnnxRuntime();
    const session = await ort.InferenceSession.create(readFileSync(model), {
      graphOptimizationLevel: 'all',
      ...(o.threads ? { intraOpNumThreads: o.threads, interOpNumThreads: 1 } : {}),
    });
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
