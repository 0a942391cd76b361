// `train`, `eval` and `predict` on a dataset whose images are CVC-ClinicDB's raw TIFFs (header
// says grey over RGB samples, built byte by byte): they read them, leave outputs at the
// original size, and say once what they mended (issue 21). TinySegmenter stands in for a model.
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Command } from 'commander';
import sharp from 'sharp';
import * as T from '../src/torch/index.js';
import { setRepairWarningSink } from '../src/data/repairs.js';
import { predictFolder, TinySegmenter, type TrainSummary } from '../src/index.js';
import { registerTrainCommand } from '../src/cli/train.js';
import { registerEvalCommand } from '../src/cli/eval.js';
import { greyTaggedRgbTiff, grayImage, put } from './raw-fixtures.js';

T.setNumThreads(1);

const S = 20;
let tmp: string;
let data: string;
before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tvs-real-train-'));
  data = path.join(tmp, 'clinic');
  const split: Record<string, number[]> = { train: [1, 2, 3, 4], val: [5, 6], test: [7, 8] };
  for (const [name, ns] of Object.entries(split)) {
    for (const n of ns) {
      await put(
        path.join(data, 'images', `${n}.tif`),
        greyTaggedRgbTiff(S, S, (x, y) => [90 + 5 * x + n, 40 + 3 * y, 30 + x + y]),
      );
      await grayImage(path.join(data, 'masks', `${n}.png`), S, S, (x, y) => ((x - 8 - (n % 3)) ** 2 + (y - 9) ** 2 <= 16 ? 255 : 0));
    }
    await put(
      path.join(data, 'anns', `${name}.json`),
      JSON.stringify(ns.map((n) => ({ img_name: `${n}.tif`, mask_name: `${n}.png`, prompts: { p0: '', p1: 'polyp' } }))),
    );
  }
});
after(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

async function cli(...args: string[]): Promise<string[]> {
  const out: string[] = [];
  const program = new Command().exitOverride();
  const deps = { buildSegmenter: () => new TinySegmenter({ imageSize: 32, channels: 4 }), print: (l: string) => out.push(l) };
  registerTrainCommand(program, deps);
  registerEvalCommand(program, deps);
  await program.parseAsync(['node', 'tunevlseg', ...args]);
  return out;
}

test('train, eval and predict read the raw TIFFs and warn once, with the file count', async () => {
  const said: string[] = [];
  const prev = setRepairWarningSink((l) => said.push(l));
  try {
    const runs = path.join(tmp, 'runs');
    const out = await cli(
      'train',
      '--dataset',
      data,
      '--image-size',
      '32',
      '--loader-threads',
      '0',
      '--name',
      'tiff',
      '--runs-dir',
      runs,
      '--batch-size',
      '2',
      '--effective-batch-size',
      '2',
      '--min-epochs',
      '1',
      '--max-epochs',
      '1',
      '--progress',
      'none',
      '--json',
    );
    const summary = JSON.parse(out[out.length - 1]!) as TrainSummary;
    assert.equal(summary.epochs, 1);
    assert.ok(Number.isFinite(summary.test!.dice));
    assert.equal(said.length, 1, said.join('\n'));
    assert.match(
      said[0]!,
      /^warning: 8 file\(s\): TIFF header says PhotometricInterpretation 1 \(BlackIsZero, grey\) but holds SamplesPerPixel 3 of 8 bits .*: read by its samples as RGB \(e\.g\. images\/1\.tif\)$/,
    );

    const pred = path.join(tmp, 'pred');
    await cli('eval', path.join(runs, 'tiff'), '--out', pred, '--loader-threads', '0', '--json');
    for (const n of [7, 8]) {
      const m = await sharp(path.join(pred, `${n}.png`)).metadata();
      assert.deepEqual([m.width, m.height], [S, S]);
    }

    const folder = path.join(tmp, 'pred-folder');
    const r = await predictFolder(new TinySegmenter({ imageSize: 32, channels: 4 }), {
      input: path.join(data, 'images'),
      prompt: 'polyp',
      outDir: folder,
      workers: 0,
    });
    assert.equal(r.files.length, 8);
    assert.ok(existsSync(path.join(folder, '3_overlay.png')));
    // the overlay is drawn on the photo's colours (not a grey frame)
    const { data: px } = await sharp(path.join(folder, '3_overlay.png')).raw().toBuffer({ resolveWithObject: true });
    const [r0, g0, b0] = [...px.subarray((19 * S + 0) * 3, (19 * S + 0) * 3 + 3)] as [number, number, number];
    assert.ok(r0 !== g0 && g0 !== b0, `overlay pixel ${r0},${g0},${b0}`);
  } finally {
    setRepairWarningSink(prev);
  }
});
