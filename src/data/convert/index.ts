/**
 * `data convert`: a paper dataset's public distribution -> the benchmark layout, checked.
 * The converters (one module per dataset) only scan their raw layout; ./build.ts writes.
 */
import { type BuildResult, buildDataset } from './build.js';
import { getConverter } from './registry.js';

export { type BuildOptions, type BuildResult, buildDataset } from './build.js';
export { CONVERTERS, getConverter } from './registry.js';
export { LayoutError, type BinaryMask, type Converter, type MaskOut, type RawSample, type ScanResult } from './types.js';

export interface ConvertOptions {
  out: string;
  /** medvlsm's published anns/ folder for this dataset: its splits, names and prompts are kept. */
  anns?: string;
  /** Seed of the splits drawn without --anns. Default 0. */
  seed?: number;
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
  /** Called once the raw folder is scanned (before any file is written). */
  onScan?: (found: number, skipped: readonly string[]) => void;
}

/** Converts one paper dataset; the result carries the `data check` report of the output. */
export async function convertDataset(name: string, rawDir: string, opts: ConvertOptions): Promise<BuildResult> {
  const conv = getConverter(name);
  const scan = await conv.scan(rawDir);
  opts.onScan?.(scan.samples.length, scan.skipped);
  return buildDataset(scan.samples, scan.skipped, {
    dataset: conv.name,
    out: opts.out,
    sizes: conv.paperSizes,
    seed: opts.seed ?? 0,
    attributes: true,
    ...(opts.anns !== undefined ? { anns: opts.anns } : {}),
    ...(scan.layout !== undefined ? { layout: scan.layout } : {}),
    ...(conv.reference !== undefined ? { reference: conv.reference } : {}),
    ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
    ...(opts.onProgress !== undefined ? { onProgress: opts.onProgress } : {}),
    ...(conv.groupWord !== undefined ? { groupWord: conv.groupWord } : {}),
    inputs: [{ dir: rawDir, what: 'the raw folder' }, ...(opts.anns !== undefined ? [{ dir: opts.anns, what: 'the --anns folder' }] : [])],
  });
}
