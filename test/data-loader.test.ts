import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { DatasetError, loadSplit } from '../src/data/format.js';
import { decodeImage, decodeMask, ImageError } from '../src/data/image.js';
import { type Batch, BatchLoader, type LoaderSample } from '../src/data/loader.js';
import { generateSyntheticDataset } from '../src/data/synthetic.js';

import { repoRoot } from './helpers.js';
const KVASIR = path.join(repoRoot(), '..', 'shared', 'datasets', 'kvasir-sample');
let tmp: string;
let shapesDir: string;

before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tunevlseg-loader-'));
  shapesDir = path.join(tmp, 'shapes');
  await generateSyntheticDataset('shapes', shapesDir, { counts: { train: 10, val: 2, test: 2 }, seed: 2, size: 40 });
});
after(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

async function collect(it: AsyncIterable<Batch>): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of it) out.push(b);
  return out;
}

describe('batch loader', () => {
  it('kvasir: batch shapes, value ranges, prompts, names and original sizes', async () => {
    const samples = await loadSplit(KVASIR, 'val');
    const loader = new BatchLoader(samples, { size: 96, batchSize: 4, workers: 2, promptKey: 'p1' });
    try {
      const batches = await collect(loader.epoch(0));
      assert.deepEqual(
        batches.map((b) => b.size),
        [4, 4, 2],
      );
      assert.equal(loader.length, 3);
      const first = batches[0]!;
      assert.equal(first.images.length, 4 * 3 * 96 * 96);
      assert.equal(first.masks.length, 4 * 96 * 96);
      assert.deepEqual(first.prompts, ['polyp.', 'polyp.', 'polyp.', 'polyp.']);
      assert.deepEqual(
        first.names,
        samples.slice(0, 4).map((s) => s.maskName),
      );
      // Soft masks by default (gray / 255, as the reference's loader): Kvasir's JPEG masks have
      // levels between 0 and 255 at the edges.
      const levels = new Set<number>();
      for (const v of first.masks) {
        assert.ok(v >= 0 && v <= 1);
        levels.add(Math.round(v * 255));
        assert.ok(Math.abs(v * 255 - Math.round(v * 255)) < 1e-4, `gray/255, got ${v}`);
      }
      assert.ok(levels.has(0) && levels.has(255) && levels.size > 2, `soft levels: ${[...levels].slice(0, 8).join(', ')}`);
      // Same pixels as decoding on the main thread, original sizes from the files.
      for (let i = 0; i < 4; i++) {
        const s = samples[i]!;
        const meta = await sharp(s.imagePath).metadata();
        assert.deepEqual(first.originalSizes[i], [meta.width, meta.height]);
        const img = await decodeImage(s.imagePath, { size: 96, mean: [0, 0, 0], std: [1, 1, 1] }); // the loader yields [0, 1] pixels
        assert.deepEqual(first.images.subarray(i * 3 * 96 * 96, (i + 1) * 3 * 96 * 96), img.data);
        const m = await decodeMask(s.maskPath, { size: 96, threshold: null });
        assert.deepEqual(Array.from(first.masks.subarray(i * 96 * 96, (i + 1) * 96 * 96)), Array.from(m.data));
      }
    } finally {
      await loader.close();
    }
  });

  for (const dropLast of [false, true]) {
    it(`yields every sample exactly once per epoch (dropLast ${dropLast})`, async () => {
      const samples = await loadSplit(shapesDir, 'train');
      const n = samples.length;
      const B = 4;
      const loader = new BatchLoader(samples, { size: 32, batchSize: B, shuffle: true, dropLast, seed: 7, workers: 2 });
      try {
        for (const epoch of [0, 1]) {
          const batches = await collect(loader.epoch(epoch));
          const seen = batches.flatMap((b) => b.indices);
          if (dropLast) {
            assert.equal(seen.length, Math.floor(n / B) * B);
            assert.ok(batches.every((b) => b.size === B));
          } else {
            assert.equal(seen.length, n);
            assert.deepEqual(
              [...seen].sort((a, b) => a - b),
              Array.from({ length: n }, (_, i) => i),
            );
          }
          assert.equal(new Set(seen).size, seen.length, 'no sample twice');
          assert.equal(batches.length, loader.length);
          for (const b of batches) {
            assert.deepEqual(
              b.names,
              b.indices.map((i) => samples[i]!.maskName),
            );
            assert.equal(b.images.length, b.size * 3 * 32 * 32);
          }
        }
      } finally {
        await loader.close();
      }
    });
  }

  it('is deterministic in the seed: same order, prompts and pixels; epochs differ', async () => {
    const samples = await loadSplit(shapesDir, 'train');
    const opts = { size: 32, batchSize: 5, shuffle: true, seed: 123, promptKey: 'p2' } as const;
    const a = new BatchLoader(samples, { ...opts, workers: 2 });
    const b = new BatchLoader(samples, { ...opts, workers: 0, prefetch: 1 });
    const c = new BatchLoader(samples, { ...opts, seed: 124, workers: 1 });
    try {
      const ea = await collect(a.epoch(0));
      const eb = await collect(b.epoch(0));
      assert.deepEqual(
        ea.map((x) => x.indices),
        eb.map((x) => x.indices),
      );
      assert.deepEqual(
        ea.map((x) => x.prompts),
        eb.map((x) => x.prompts),
      );
      for (let i = 0; i < ea.length; i++) {
        assert.deepEqual(ea[i]!.images, eb[i]!.images);
        assert.deepEqual(ea[i]!.masks, eb[i]!.masks);
      }
      const a1 = await collect(a.epoch(1));
      assert.notDeepEqual(
        a1.map((x) => x.indices),
        ea.map((x) => x.indices),
        'a new order every epoch',
      );
      const ec = await collect(c.epoch(0));
      assert.notDeepEqual(
        ec.map((x) => x.indices),
        ea.map((x) => x.indices),
        'another seed, another order',
      );
      // Training mode picks list prompts at random; the choice is tied to (seed, epoch, sample).
      const prompts = new Set(ea.flatMap((x) => x.prompts));
      assert.ok(prompts.size > 3);
      // Iterating the loader itself runs epoch 0 then epoch 1.
      assert.deepEqual(
        (await collect(b)).map((x) => x.indices),
        ea.map((x) => x.indices),
      );
      assert.deepEqual(
        (await collect(b)).map((x) => x.indices),
        a1.map((x) => x.indices),
      );
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });

  it('released batches are decoded into again, with the same results', async () => {
    const samples = await loadSplit(shapesDir, 'train');
    // Every third sample has no mask: a reused mask buffer must be cleared for it.
    const mixed: LoaderSample[] = samples.map((s, i) => (i % 3 === 0 ? { imagePath: s.imagePath, prompts: s.prompts } : s));
    const opts = { size: 32, batchSize: 4, shuffle: true, seed: 5 } as const;
    const reference = new BatchLoader(mixed, { ...opts, workers: 1 });
    try {
      const want = await collect(reference.epoch(0));
      for (const workers of [2, 0]) {
        const loader = new BatchLoader(mixed, { ...opts, workers, prefetch: 1 });
        try {
          const released: Batch[] = [];
          for (let epoch = 0; epoch < 2; epoch++) {
            let k = 0;
            for await (const b of loader.epoch(0)) {
              const w = want[k++]!;
              assert.deepEqual(b.indices, w.indices);
              assert.deepEqual(b.images, w.images);
              assert.deepEqual(b.masks, w.masks);
              b.release();
              b.release(); // idempotent
              released.push(b);
            }
          }
          if (workers > 0) {
            assert.ok(
              released.some((b) => b.images.length === 0),
              'reused buffers were transferred to a worker',
            );
          }
        } finally {
          await loader.close();
        }
      }
    } finally {
      await reference.close();
    }
  });

  it('without shuffle, evaluation order and first list prompts', async () => {
    const samples = await loadSplit(shapesDir, 'val');
    const loader = new BatchLoader(samples, { size: 32, batchSize: 3, workers: 1, promptKey: 'p2' });
    try {
      const batches = await collect(loader.epoch(4));
      assert.deepEqual(
        batches.flatMap((b) => b.indices),
        samples.map((_, i) => i),
      );
      assert.deepEqual(
        batches.flatMap((b) => b.prompts),
        samples.map((s) => `${(s.prompts.p2 as string[])[0]}.`),
      );
    } finally {
      await loader.close();
    }
  });

  it('a corrupt file surfaces in the consumer with its name and entry', async () => {
    const dir = path.join(tmp, 'corrupt');
    await fs.cp(shapesDir, dir, { recursive: true });
    const samples = await loadSplit(dir, 'train');
    const victim = samples[5]!;
    const bytes = await fs.readFile(victim.imagePath);
    await fs.writeFile(victim.imagePath, bytes.subarray(0, Math.floor(bytes.length / 3)));
    for (const workers of [2, 0]) {
      const loader = new BatchLoader(samples, { size: 32, batchSize: 4, workers });
      try {
        let yielded = 0;
        await assert.rejects(
          (async () => {
            for await (const b of loader.epoch(0)) yielded += b.size;
          })(),
          (err: unknown) => {
            assert.ok(err instanceof ImageError, String(err));
            assert.equal(err.file, victim.imagePath);
            assert.ok(err.message.includes(victim.imagePath));
            assert.match(err.message, new RegExp(`train\\.json entry ${victim.index}\\)`));
            return true;
          },
        );
        assert.equal(yielded, 4, 'the batches before the bad one were delivered');
        // The loader stays usable: a list without the bad sample works.
      } finally {
        await loader.close();
      }
    }
    const ok = samples.filter((s) => s.imagePath !== victim.imagePath);
    const loader = new BatchLoader(ok, { size: 32, batchSize: 4, workers: 2 });
    try {
      assert.equal(
        (await collect(loader.epoch(0))).reduce((a, b) => a + b.size, 0),
        ok.length,
      );
    } finally {
      await loader.close();
    }
  });

  it('stopping early, samples without masks, prompt validation and close()', async () => {
    const samples = await loadSplit(shapesDir, 'train');
    const loader = new BatchLoader(samples, { size: 32, batchSize: 2, workers: 2, prefetch: 4 });
    for await (const b of loader.epoch(0)) {
      assert.equal(b.size, 2);
      break;
    }
    // The next epoch is unaffected by the abandoned one.
    assert.equal(
      (await collect(loader.epoch(1))).reduce((a, b) => a + b.size, 0),
      samples.length,
    );
    await loader.close();
    await assert.rejects(collect(loader.epoch(2)), /closed/);

    const noMask: LoaderSample[] = samples.slice(0, 3).map((s) => ({ imagePath: s.imagePath, prompts: { p1: 'x' } }));
    const l2 = new BatchLoader(noMask, { size: 32, batchSize: 3, workers: 1 });
    try {
      const [b] = await collect(l2.epoch(0));
      assert.ok(b !== undefined && b.masks.every((v) => v === 0));
      assert.deepEqual(b.prompts, ['x.', 'x.', 'x.']);
    } finally {
      await l2.close();
    }
    assert.throws(
      () => new BatchLoader(samples, { size: 32, batchSize: 2, promptKey: 'p9' }),
      (err: unknown) => err instanceof DatasetError && err.issues.length === samples.length && /has no prompt "p9"/.test(err.message),
    );
  });
});
