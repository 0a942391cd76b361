// CLIP embeddings of a dataset (Fig. 4 of the paper: t-SNE of text and image embeddings per
// dataset, showing the natural-to-medical domain shift): the pooled, projected text embedding
// of each distinct prompt and the projected image embedding of each image, from the frozen
// base model. Written in the report's `embeddings/<dataset>.json` format (docs/report.md).
import { noGrad, tidy, type Tensor } from '../torch/index.js';
import { loadSplit, type Split } from '../data/index.js';
import { batchTensors, loaderFor, normalise } from './inputs.js';
import type { TextInputs, SegmenterInfo } from '../tuning/segmenter.js';

/** What the embedding needs of a model: CLIP's two towers and the tokenizer (CLIPSeg has them). */
export interface ClipLike {
  readonly info: SegmenterInfo;
  tokenize(prompts: string[]): TextInputs;
  textFeatures(text: TextInputs): Tensor;
  imageFeatures(pixelValues: Tensor): Tensor;
}

export interface EmbeddingsFile {
  format: 'tunevlseg-embeddings/1';
  dataset: string;
  model: string;
  text: { labels: string[]; vectors: number[][] };
  image: { labels: string[]; vectors: number[][] };
}

const rows = (t: Tensor): number[][] => {
  const d = t.size(1);
  const a = t.toFloat32Array();
  return Array.from({ length: t.size(0) }, (_, i) => Array.from(a.subarray(i * d, (i + 1) * d), (v) => Math.round(v * 1e6) / 1e6));
};

export async function datasetEmbeddings(
  m: ClipLike,
  o: { dataset: string; dataDir: string; model: string; split?: Split; promptKey?: string; maxImages?: number; batchSize?: number },
): Promise<EmbeddingsFile> {
  const samples = (await loadSplit(o.dataDir, o.split ?? 'test', { promptKey: o.promptKey ?? 'p1' })).slice(0, o.maxImages ?? 200);
  if (samples.length === 0) throw new Error(`${o.dataDir}: no samples in split ${o.split ?? 'test'}`);
  const loader = loaderFor(m, samples, { batchSize: o.batchSize ?? 8, promptKey: o.promptKey ?? 'p1', workers: 0 });
  const image: EmbeddingsFile['image'] = { labels: [], vectors: [] };
  const prompts = new Set<string>();
  try {
    for await (const b of loader) {
      const v = noGrad(() => tidy(() => rows(m.imageFeatures(normalise(batchTensors(b, 'cpu').images, m.info)))));
      image.labels.push(...b.names);
      image.vectors.push(...v);
      for (const p of b.prompts) prompts.add(p);
    }
  } finally {
    await loader.close();
  }
  const labels = [...prompts];
  const vectors = noGrad(() => tidy(() => rows(m.textFeatures(m.tokenize(labels)))));
  return { format: 'tunevlseg-embeddings/1', dataset: o.dataset, model: o.model, text: { labels, vectors }, image };
}
