// Several classes out: label maps from one pass per class prompt (predict --prompts) and
// per-class Dice of a multi-class split (eval --prompts), on the tiny CLIPSeg fixture.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { readMaskGray } from '../src/data/image.js';
import { importDataset } from '../src/data/import.js';
import { pngPalette } from '../src/data/indexed-png.js';
import { buildSegmenter } from '../src/tuning/factory.js';
import { classLegend, evaluateClasses, labelMapFromProbs, parseClassList, predictClasses } from '../src/inference/multiclass.js';
import { Command } from 'commander';
import { registerEvalCommand } from '../src/cli/eval.js';
import { saveCheckpoint } from '../src/train/checkpoint.js';
import { TinySegmenter } from '../src/tuning/tiny-segmenter.js';
import { fixturesDir, repoRoot } from './helpers.js';
import { grayImage, put, rgbImage } from './raw-fixtures.js';

const TINY = path.join(fixturesDir(), 'clipseg-tiny');
const TOKENIZER = path.join(fixturesDir(), 'tokenizer');
let tmp: string;
before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tvs-multiclass-'));
});
after(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

/** A palette PNG's indices, decoded by sharp (to RGB) and mapped back through its PLTE chunk. */
async function readIndices(file: string): Promise<{ idx: Uint8Array; width: number; height: number }> {
  const palette = pngPalette(await fs.readFile(file));
  const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const idx = new Uint8Array(info.width * info.height);
  for (let i = 0; i < idx.length; i++) {
    const j = i * info.channels;
    idx[i] = palette.findIndex(([r, g, b]) => r === data[j] && g === data[j + 1] && b === data[j + 2]);
  }
  return { idx, width: info.width, height: info.height };
}

describe('label maps', () => {
  it('argmax over the classes, background where the best probability is not above the threshold', () => {
    const a = Uint8Array.from([200, 10, 128, 127, 0]);
    const b = Uint8Array.from([100, 90, 129, 100, 0]);
    assert.deepEqual([...labelMapFromProbs([a, b], 0.5)], [1, 0, 2, 0, 0]);
    assert.deepEqual([...labelMapFromProbs([a, b], 0.3)], [1, 2, 2, 1, 0]);
  });

  it('class lists: "a,b", @labels.txt, @<dataset>', async () => {
    assert.deepEqual(await parseClassList(' myocardium, left ventricle ,left atrium'), ['myocardium', 'left ventricle', 'left atrium']);
    await put(path.join(tmp, 'labels.txt'), '0 background\n2 myocardium\n1 left ventricle\n');
    assert.deepEqual(await parseClassList(`@${path.join(tmp, 'labels.txt')}`), ['left ventricle', 'myocardium']);
    await assert.rejects(parseClassList(' , '), /--prompts: no class/);
  });

  it('predictClasses writes a probability map per class and an indexed label map consistent with them', async () => {
    const images = path.join(tmp, 'imgs');
    await rgbImage(path.join(images, 'a.png'), 40, 30, 1);
    await rgbImage(path.join(images, 'b.jpg'), 36, 28, 2);
    const seg = await buildSegmenter({ model: TINY, tokenizer: TOKENIZER });
    try {
      const out = path.join(tmp, 'pred');
      const classes = ['polyp', 'background tissue', 'instrument'];
      // A low threshold so that the tiny random-ish model's maps give several labels.
      const r = await predictClasses(seg, { input: images, classes, outDir: out, threshold: 0.2 });
      assert.deepEqual(r.files.map((f) => f.name).sort(), ['a.png', 'b.jpg']);
      const legend = JSON.parse(await fs.readFile(path.join(out, 'legend.json'), 'utf8')) as { threshold: number; legend: unknown };
      assert.deepEqual(legend, { threshold: 0.2, legend: classLegend(classes) });
      // Not a trivial map: the tiny model's maps give several labels at this threshold.
      assert.ok(
        r.files.some((f) => f.pixels.filter((n) => n > 0).length >= 2),
        JSON.stringify(r.files.map((f) => f.pixels)),
      );
      for (const f of r.files) {
        assert.equal(f.probs.length, 3);
        const { idx, width, height } = await readIndices(f.labels);
        assert.deepEqual([width, height], [f.width, f.height]);
        assert.ok(idx.every((v) => v >= 0 && v <= 3));
        const probs = await Promise.all(f.probs.map(async (p) => (await readMaskGray(p)).gray));
        assert.deepEqual([...idx], [...labelMapFromProbs(probs, 0.2)]);
        assert.equal(
          f.pixels.reduce((a, b) => a + b, 0),
          width * height,
        );
        assert.deepEqual(
          pngPalette(await fs.readFile(f.labels)).slice(0, 4),
          classLegend(classes).map((l) => l.colour),
        );
      }
    } finally {
      seg.dispose();
    }
  });

  it('evaluateClasses: per-class Dice of the label maps against each class mask, and their mean', async () => {
    const images = path.join(tmp, 'ds-raw', 'images');
    const masks = path.join(tmp, 'ds-raw', 'masks');
    for (let i = 0; i < 4; i++) {
      await rgbImage(path.join(images, `f${i}.png`), 32, 24, i);
      await grayImage(path.join(masks, `f${i}.png`), 32, 24, (x, y) => (y < 8 ? 0 : x < 16 ? 1 : 2));
    }
    await put(path.join(tmp, 'ds-raw', 'labels.txt'), '1 polyp\n2 instrument\n');
    const data = path.join(tmp, 'ds');
    await importDataset({ images, masks, classesFile: path.join(tmp, 'ds-raw', 'labels.txt'), out: data, split: [0.5, 0.25, 0.25] });
    const seg = await buildSegmenter({ model: TINY, tokenizer: TOKENIZER });
    try {
      const out = path.join(tmp, 'ds-eval');
      const classes = ['polyp', 'instrument', 'unused class'];
      const r = await evaluateClasses(seg, data, 'train', { classes, outDir: out, threshold: 0.2 });
      assert.equal(r.unmatched, 0);
      assert.deepEqual(
        r.classes.map((c) => c.entries),
        [2, 2, 0],
      );
      assert.ok(Number.isNaN(r.classes[2]?.dice));
      // The same Dice recomputed from the written label maps and the dataset's masks.
      const train = JSON.parse(await fs.readFile(path.join(data, 'anns', 'train.json'), 'utf8')) as {
        img_name: string;
        mask_name: string;
        prompts: { p1: string };
      }[];
      const legend = JSON.parse(await fs.readFile(path.join(out, 'legend.json'), 'utf8')) as { legend: { index: number; name: string }[] };
      const labelFiles = (await fs.readdir(out)).filter((f) => f.endsWith('_labels.png')).sort();
      assert.equal(labelFiles.length, 2);
      const sums = new Map<string, number[]>();
      const imgs = [...new Set(train.map((e) => e.img_name))];
      for (const e of train) {
        const k = legend.legend.find((l) => l.name === e.prompts.p1)?.index as number;
        const { idx } = await readIndices(path.join(out, `${imgs.indexOf(e.img_name)}_labels.png`));
        const truth = (await readMaskGray(path.join(data, 'masks', e.mask_name))).gray;
        let inter = 0;
        let p = 0;
        let t = 0;
        for (let i = 0; i < idx.length; i++) {
          if (idx[i] === k) p++;
          if ((truth[i] as number) > 127) t++;
          if (idx[i] === k && (truth[i] as number) > 127) inter++;
        }
        sums.set(e.prompts.p1, [...(sums.get(e.prompts.p1) ?? []), p + t === 0 ? 1 : (2 * inter) / (p + t)]);
      }
      for (const c of r.classes.slice(0, 2)) {
        const d = sums.get(c.name) as number[];
        assert.ok(Math.abs(c.dice - d.reduce((a, b) => a + b, 0) / d.length) < 1e-12, c.name);
      }
      assert.ok(Math.abs(r.meanDice - ((r.classes[0]?.dice ?? 0) + (r.classes[1]?.dice ?? 0)) / 2) < 1e-12);
    } finally {
      seg.dispose();
    }
  });

  it('predict --prompts on the command line', () => {
    const out = path.join(tmp, 'cli');
    const bin = path.join(repoRoot(), 'bin', 'tunevlseg.js');
    const r = spawnSync(
      process.execPath,
      [
        bin,
        'predict',
        '--model',
        TINY,
        '--tokenizer',
        TOKENIZER,
        '--prompts',
        'polyp,instrument',
        '--out',
        out,
        '-q',
        path.join(tmp, 'imgs'),
      ],
      {
        encoding: 'utf8',
        env: { ...process.env, TUNEVLSEG_THREADS: '1' },
      },
    );
    assert.equal(r.status, 0, r.stderr.slice(-2000));
    assert.ok(existsSync(path.join(out, 'a_labels.png')));
    assert.ok(existsSync(path.join(out, 'legend.json')));
    assert.ok(existsSync(path.join(out, 'classes', '2_instrument', 'a_prob.png')));
  });

  // Uses the dataset the evaluateClasses test above wrote (tests in a file run in order).
  it('eval --prompts on the command line prints per-class and mean Dice', async () => {
    const ckpt = path.join(tmp, 'tiny.safetensors');
    const tiny = new TinySegmenter({ imageSize: 32, channels: 8 });
    saveCheckpoint(ckpt, tiny, { kind: 'best', model: { channels: 8 }, metrics: {}, epoch: 0, globalStep: 0 });
    tiny.dispose();
    const out: string[] = [];
    const program = new Command().exitOverride();
    registerEvalCommand(program, {
      buildSegmenter: () => new TinySegmenter({ imageSize: 32, channels: 8 }),
      print: (l: string) => out.push(l),
    });
    await program.parseAsync([
      'node',
      'tunevlseg',
      'eval',
      ckpt,
      '--dataset',
      path.join(tmp, 'ds'),
      '--split',
      'train',
      '--prompts',
      'polyp,instrument',
      '--image-size',
      '32',
      '--loader-threads',
      '0',
    ]);
    assert.match(out[0] ?? '', /^train: per-class Dice of the label maps/);
    assert.match(out[1] ?? '', /^ {2}polyp +Dice \d\.\d{4} {2}\(2 entries\)$/);
    assert.match(out[2] ?? '', /^ {2}instrument +Dice \d\.\d{4} {2}\(2 entries\)$/);
    assert.match(out[3] ?? '', /^ {2}mean +Dice \d\.\d{4}$/);
  });
});
