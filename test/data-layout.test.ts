// Per-split image and mask folders (dataset.json), as the original reads CAMUS from
// images/train and images/test: loadSplit resolves names in them, data check understands them.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkDataset, formatCheckReport } from '../src/data/check.js';
import { DatasetError, loadSplit, readLayout } from '../src/data/format.js';
import { grayImage, put, rgbImage } from './raw-fixtures.js';

let tmp: string;
before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tvs-layout-'));
});
after(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

const entry = (name: string) => ({ img_name: `${name}.png`, mask_name: `${name}_gt.png`, prompts: { p1: 'heart' } });

/** train and val from images/train, test from images/test; the same names in both folders. */
async function perSplitDataset(dir: string, layout: unknown): Promise<void> {
  for (const [folder, seed] of [
    ['train', 1],
    ['test', 2],
  ] as const) {
    for (const n of ['p1', 'p2']) {
      await rgbImage(path.join(dir, 'images', folder, `${n}.png`), 12, 10, seed);
      await grayImage(path.join(dir, 'masks', folder, `${n}_gt.png`), 12, 10, (x) => (x > 5 ? 255 : 0));
    }
  }
  await put(path.join(dir, 'anns', 'train.json'), JSON.stringify([entry('p1')]));
  await put(path.join(dir, 'anns', 'val.json'), JSON.stringify([entry('p2')]));
  await put(path.join(dir, 'anns', 'test.json'), JSON.stringify([entry('p1'), entry('p2')]));
  await put(path.join(dir, 'dataset.json'), JSON.stringify(layout));
}

const CAMUS_LIKE = {
  folders: {
    train: { images: 'images/train', masks: 'masks/train' },
    val: { images: 'images/train', masks: 'masks/train' },
    test: { images: 'images/test', masks: 'masks/test' },
  },
};

describe('per-split folders', () => {
  it('loadSplit resolves each split in its own folders', async () => {
    const dir = path.join(tmp, 'ok');
    await perSplitDataset(dir, CAMUS_LIKE);
    const test = await loadSplit(dir, 'test');
    assert.equal(test[0]?.imagePath, path.join(dir, 'images', 'test', 'p1.png'));
    assert.equal(test[0]?.maskPath, path.join(dir, 'masks', 'test', 'p1_gt.png'));
    const val = await loadSplit(dir, 'val');
    assert.equal(val[0]?.imagePath, path.join(dir, 'images', 'train', 'p2.png'));
  });

  it('data check passes it, and does not call train p1 and test p1 one image in two splits', async () => {
    const dir = path.join(tmp, 'ok');
    const r = await checkDataset(dir);
    assert.equal(r.ok, true, JSON.stringify(r.problems));
    assert.equal(r.counts.split_overlap, undefined);
    assert.equal(r.images.checked, 4);
    assert.match(
      formatCheckReport(r),
      /Folders \(dataset\.json\): train images\/train\/ \+ masks\/train\/; val images\/train\/ \+ masks\/train\/; test images\/test\//,
    );
  });

  it('a file missing from its split folder is named with that folder', async () => {
    const dir = path.join(tmp, 'missing');
    await perSplitDataset(dir, CAMUS_LIKE);
    await fs.rm(path.join(dir, 'images', 'test', 'p2.png'));
    const r = await checkDataset(dir);
    assert.equal(r.ok, false);
    const p = r.problems.find((x) => x.code === 'missing_image');
    assert.match(p?.message ?? '', /^images\/test\/p2\.png not found \(test entry 1\)/);
    await assert.rejects(loadSplit(dir, 'test'), /images\/test\/p2\.png not found/);
  });

  it('a layout folder that leaves the dataset, or an unknown key, is an error naming the field', async () => {
    const dir = path.join(tmp, 'bad');
    await perSplitDataset(dir, { folders: { test: { images: '../elsewhere' } } });
    const r = await checkDataset(dir);
    const p = r.problems.find((x) => x.file?.endsWith('dataset.json'));
    assert.equal(p?.code, 'path_escape');
    assert.equal(p?.field, 'folders.test.images');
    await assert.rejects(readLayout(dir), (e: Error) => e instanceof DatasetError && /folders\.test\.images/.test(e.message));
    await put(path.join(dir, 'dataset.json'), JSON.stringify({ folders: { tset: {} } }));
    await assert.rejects(readLayout(dir), /dataset\.json/);
  });

  it('without dataset.json every split uses images/ and masks/', async () => {
    const l = await readLayout(path.join(tmp, 'nothing-here'));
    assert.deepEqual(l.test, { images: 'images', masks: 'masks' });
  });
});
