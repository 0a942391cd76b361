// Issue 22, exports and what they read: `export --out` a file, a project folder or `.`, an
// earlier export, an export that fails half-way; `predict --onnx` of an export folder whose
// preprocess.json has std 0 or a wrong size, or whose model.onnx is empty or truncated; a tuned
// checkpoint holding NaN. Each case: the exit code, a message naming the file (and key), and
// content hashes before and after of everything that must not change.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as T from '../../src/torch/index.js';
import { buildSegmenter } from '../../src/tuning/factory.js';
import { saveCheckpoint } from '../../src/train/checkpoint.js';
import { exportModel } from '../../src/export/bundle.js';
import { fixturesDir } from '../helpers.js';
import { hashTree, makeDataset, tvs } from './cli-harness.js';

T.setNumThreads(1);

let tmp: string;
let ckpt: string;
let nanCkpt: string;
let images: string;
let exported: string;

const config = () => ({
  model: path.join(fixturesDir(), 'clipseg-tiny'),
  tokenizer: path.join(fixturesDir(), 'tokenizer'),
  learner: 'vpt',
  depth: 2,
});
const quote = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const siblings = (dir: string): string[] => readdirSync(path.dirname(dir)).filter((n) => n.startsWith(`.${path.basename(dir)}.`));

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'tvs-hostile-export-'));
  const seg = await buildSegmenter(config());
  ckpt = path.join(tmp, 'vpt.safetensors');
  saveCheckpoint(ckpt, seg, { kind: 'best', model: config(), metrics: {}, epoch: 1, globalStep: 1 });
  // The same checkpoint after a run that diverged: one prompt tensor holds NaN.
  const [key, p] = [...seg.learnableState()][0]!;
  T.noGrad(() =>
    T.tidy(() => {
      p.mul_(Number.NaN);
    }),
  );
  nanCkpt = path.join(tmp, 'nan.safetensors');
  saveCheckpoint(nanCkpt, seg, { kind: 'best', model: config(), metrics: {}, epoch: 1, globalStep: 1 });
  seg.dispose();
  assert.ok(key);
  images = path.join(await makeDataset(path.join(tmp, 'ds')), 'images');
  exported = path.join(tmp, 'export');
  const e = tvs(['export', '--tuned', ckpt, '--prompt', 'polyp', '--out', exported, '--no-verify', '-q']);
  assert.equal(e.status, 0, e.all);
});
after(() => rmSync(tmp, { recursive: true, force: true }));

test('export --out <a file> is refused before the model is loaded or traced; the file is untouched', () => {
  const file = path.join(tmp, 'notes.txt');
  writeFileSync(file, 'keep me\n');
  const r = tvs(['export', '--tuned', ckpt, '--prompt', 'polyp', '--out', file]);
  assert.equal(r.status, 1, r.all);
  assert.match(r.stderr, new RegExp(`export: --out ${quote(file)} is a file, not a folder`));
  assert.doesNotMatch(r.stderr, /loading the model|tracing/, 'refused before any work');
  assert.equal(readFileSync(file, 'utf8'), 'keep me\n');
});

test('export --out into a project folder (or `.` in it) is refused; nothing in it changes', () => {
  const project = path.join(tmp, 'project');
  mkdirSync(path.join(project, 'src'), { recursive: true });
  writeFileSync(path.join(project, 'README.md'), '# my project\n');
  writeFileSync(path.join(project, 'preprocess.json'), '{"mine": true}\n');
  writeFileSync(path.join(project, 'src', 'main.ts'), 'export {};\n');
  const before = hashTree(project);
  const named = tvs(['export', '--tuned', ckpt, '--prompt', 'polyp', '--out', project]);
  assert.equal(named.status, 1, named.all);
  assert.match(
    named.stderr,
    new RegExp(
      `export: --out ${quote(project)} is not empty and not an earlier export \\(it holds README\\.md, preprocess\\.json, src\\); nothing was written`,
    ),
  );
  const dot = tvs(['export', '--tuned', ckpt, '--prompt', 'polyp', '--out', '.', '--overwrite'], { cwd: project });
  assert.equal(dot.status, 1, dot.all);
  assert.match(dot.stderr, /export: --out \. is the folder this command runs in/);
  assert.deepEqual(hashTree(project), before);
  assert.deepEqual(siblings(project), []);
});

test('an earlier export is replaced as a whole; --overwrite replaces any other folder; no staging folder is left', () => {
  const again = path.join(tmp, 'again');
  cpSync(exported, again, { recursive: true });
  const r = tvs(['export', '--tuned', ckpt, '--prompt', 'tumour', '--out', again, '--no-verify', '-q']);
  assert.equal(r.status, 0, r.all);
  assert.match(readFileSync(path.join(again, 'preprocess.json'), 'utf8'), /"prompt": "tumour"/);
  assert.deepEqual(readdirSync(again).sort(), ['README.md', 'model.onnx', 'preprocess.json', 'web']);
  const other = path.join(tmp, 'scratch');
  mkdirSync(other);
  writeFileSync(path.join(other, 'old.txt'), 'old\n');
  const o = tvs(['export', '--tuned', ckpt, '--prompt', 'polyp', '--out', other, '--overwrite', '--no-verify', '-q']);
  assert.equal(o.status, 0, o.all);
  assert.deepEqual(readdirSync(other).sort(), ['README.md', 'model.onnx', 'preprocess.json', 'web']);
  assert.deepEqual([...siblings(again), ...siblings(other)], []);
});

test('an export failing after it began writing leaves --out as it was and no partial folder', async () => {
  const earlier = path.join(tmp, 'earlier');
  cpSync(exported, earlier, { recursive: true });
  const before = hashTree(earlier);
  const stages: string[] = [];
  await assert.rejects(
    exportModel({
      tuned: ckpt,
      prompt: 'polyp',
      outDir: earlier,
      onStage: (s) => {
        stages.push(s);
        if (s === 'verifying with onnxruntime-node') throw new Error('simulated failure after every file was written');
      },
    }),
    /simulated failure/,
  );
  assert.ok(stages.includes('writing the web page'), 'the failure came after the files were written');
  assert.deepEqual(hashTree(earlier), before);
  assert.deepEqual(siblings(earlier), []);
});

test('predict --onnx: preprocess.json with std 0, or a size model.onnx does not take, is refused naming the file and key', () => {
  for (const [what, edit, message] of [
    [
      'std 0',
      (p: Record<string, unknown>) => ({ ...p, std: [0, 0, 0] }),
      /preprocess\.json: std\.0: must be > 0 \(x \/ std\); std\.1: .*std\.2: /,
    ],
    ['negative std', (p: Record<string, unknown>) => ({ ...p, std: [0.2, -0.3, 0.2] }), /preprocess\.json: std\.1: must be > 0/],
    ['a huge size', (p: Record<string, unknown>) => ({ ...p, size: 100000 }), /preprocess\.json: size: Too big/],
    [
      'a size the model does not take',
      (p: Record<string, unknown>) => ({ ...p, size: 48 }),
      /preprocess\.json: size 48 does not fit .*model\.onnx, whose input "pixel_values" is \[[^\]]*64, 64\]/,
    ],
  ] as const) {
    const dir = path.join(tmp, `bad-${what.replace(/ /g, '-')}`);
    cpSync(exported, dir, { recursive: true });
    const pre = JSON.parse(readFileSync(path.join(dir, 'preprocess.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(path.join(dir, 'preprocess.json'), JSON.stringify(edit(pre)));
    const before = hashTree(dir);
    const out = path.join(tmp, `pred-${what.replace(/ /g, '-')}`);
    const r = tvs(['predict', '--onnx', dir, '--out', out, images]);
    assert.equal(r.status, 1, `${what}: ${r.all}`);
    assert.match(r.stderr, new RegExp(quote(path.join(dir, 'preprocess.json'))), what);
    assert.match(r.stderr, message, what);
    assert.equal(existsSync(out), false, `${what}: nothing written`);
    assert.deepEqual(hashTree(dir), before);
  }
});

test('predict --onnx with an empty or truncated model.onnx names the file', () => {
  for (const [what, bytes] of [
    ['empty', 0],
    ['truncated', 1000],
  ] as const) {
    const dir = path.join(tmp, `onnx-${what}`);
    cpSync(exported, dir, { recursive: true });
    rmSync(path.join(dir, 'model.onnx'));
    writeFileSync(path.join(dir, 'model.onnx'), readFileSync(path.join(exported, 'model.onnx')).subarray(0, bytes));
    const r = tvs(['predict', '--onnx', dir, '--out', path.join(tmp, `pred-${what}`), images]);
    assert.equal(r.status, 1, r.all);
    const file = quote(path.join(dir, 'model.onnx'));
    assert.match(
      r.stderr,
      what === 'empty'
        ? new RegExp(`${file}: empty file \\(0 bytes\\)`)
        : new RegExp(`${file}: not a loadable ONNX model \\(1000 bytes; truncated or not ONNX\\?\\)`),
      r.stderr,
    );
    assert.equal(existsSync(path.join(tmp, `pred-${what}`)), false);
  }
});

test('a tuned checkpoint holding NaN: predict and export refuse it, naming the file and the tensor; nothing is written', () => {
  const copy = path.join(tmp, 'nan-copy.safetensors');
  copyFileSync(nanCkpt, copy);
  const before = hashTree(images);
  const out = path.join(tmp, 'pred-nan');
  const p = tvs(['predict', '--tuned', copy, '--prompt', 'polyp', '--out', out, images]);
  assert.equal(p.status, 1, p.all);
  assert.match(p.stderr, new RegExp(`${quote(copy)}: tensor "[^"]+" holds non-finite values \\(\\d+ NaN, 0 inf, of \\d+\\)`));
  assert.equal(existsSync(out), false);
  const e = tvs(['export', '--tuned', copy, '--prompt', 'polyp', '--out', path.join(tmp, 'export-nan')]);
  assert.equal(e.status, 1, e.all);
  assert.match(e.stderr, new RegExp(`${quote(copy)}: tensor "[^"]+" holds non-finite values`));
  assert.equal(existsSync(path.join(tmp, 'export-nan')), false);
  assert.deepEqual(hashTree(images), before);
});
