// The built-in demo: domain generators (deterministic, dataset format, baselines), the tiny
// vocabulary (exactly the CLIP BPE on the demo's prompts), the shipped base model (loads strictly,
// segments by text), `tunevlseg pretrain` (a few steps, output loads) and a very short
// `tunevlseg demo` run through the CLI (demo-summary.json with every key).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import type { SpawnSyncReturns } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';

import * as T from '../src/torch/index.js';
import { ClipTokenizer } from '../src/models/clip/tokenizer.js';
import { CLIPSegForImageSegmentation } from '../src/models/clipseg/model.js';
import { readSafetensorsHeader } from '../src/torch/safetensors.js';
import { checkDataset } from '../src/data/check.js';
import { loadSplit } from '../src/data/format.js';
import { evaluate } from '../src/inference/evaluate.js';
import { DEMO_WORDS, buildTinyVocab, TINY_MAX_LENGTH } from '../src/demo/vocab.js';
import { close3x3, fieldOfView, fieldOfViewDice, generateDomain, readEntries, textBlindDice } from '../src/demo/domains.js';
import { ClipsegFullSegmenter, tinyClipsegConfig } from '../src/demo/model.js';
import { demoAssetsDir } from '../src/demo/assets.js';
import { pretrain } from '../src/demo/pretrain.js';
import { registerDemoCommand } from '../src/cli/demo.js';
import { parseLearnerList } from '../src/cli/demo-flags.js';
import { registerPretrainCommand, parseCounts } from '../src/cli/pretrain.js';
import { LEARNER_NAMES, learnerEntry } from '../src/learners/registry.js';
import { fixturesDir } from './helpers.js';

T.setNumThreads(1);

let tmp: string;
before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tunevlseg-demo-'));
});
after(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

const assets = demoAssetsDir();
const fullTok = (): { vocab: string; merges: string } => ({
  vocab: path.join(fixturesDir(), 'tokenizer', 'vocab.json'),
  merges: path.join(fixturesDir(), 'tokenizer', 'merges.txt'),
});

/** Every prompt text the demo can feed the model (both domains, all variants, the CoOp initialiser). */
async function demoPrompts(dirs: string[]): Promise<string[]> {
  const out = new Set<string>(['a photo of a', 'tumor.', 'lesion.', 'dark mass.', 'vessel.', 'object.', 'ultrasound.']);
  for (const d of dirs) {
    for (const split of ['train', 'val', 'test'] as const) {
      for (const e of await readEntries(d, split)) {
        for (const v of Object.values(e.prompts)) {
          for (const p of Array.isArray(v) ? v : [v]) if (p !== '') [p, `${p}.`].forEach((x) => out.add(x));
        }
      }
    }
  }
  return [...out];
}

let natA: string, usA: string;

test('domain generators: deterministic, dataset format, prompts, baselines', async () => {
  natA = path.join(tmp, 'nat-a');
  usA = path.join(tmp, 'us-a');
  const natB = path.join(tmp, 'nat-b');
  const usB = path.join(tmp, 'us-b');
  const counts = { train: 4, val: 2, test: 6 };
  const [na, ua] = await Promise.all([generateDomain('natural', natA, { counts }), generateDomain('ultrasound', usA, { counts })]);
  await Promise.all([generateDomain('natural', natB, { counts }), generateDomain('ultrasound', usB, { counts })]);
  assert.equal(ua.splits.test.entries, 6);
  assert.ok(na.splits.test.entries >= 12 && na.splits.test.entries <= 18, 'natural: 2-3 objects per image');
  for (const [a, b] of [
    [natA, natB],
    [usA, usB],
  ] as const) {
    for (const sub of ['images', 'masks', 'anns']) {
      const files = (await fs.readdir(path.join(a, sub))).sort();
      assert.deepEqual(files, (await fs.readdir(path.join(b, sub))).sort());
      for (const f of files)
        assert.ok(
          (await fs.readFile(path.join(a, sub, f))).equals(await fs.readFile(path.join(b, sub, f))),
          `${sub}/${f} differs between runs`,
        );
    }
    const report = await checkDataset(a);
    assert.equal(report.errors, 0, JSON.stringify(report.problems.slice(0, 3)));
    const samples = await loadSplit(a, 'test', { promptKey: 'p1' });
    assert.equal(samples.length, (await readEntries(a, 'test')).length);
  }
  const nat = await readEntries(natA, 'test');
  for (const e of nat) assert.match(String(e.prompts.p1), /^(red|green|blue|yellow) (circle|square|triangle)$/);
  // Every object shares its colour or its shape with another one of its image: both words matter.
  const byImage = new Map<string, typeof nat>();
  for (const e of nat) byImage.set(e.img_name, [...(byImage.get(e.img_name) ?? []), e]);
  for (const es of byImage.values()) {
    for (const e of es) {
      const [c, s] = String(e.prompts.p1).split(' ');
      assert.ok(es.some((o) => o !== e && (String(o.prompts.p1).startsWith(`${c} `) || String(o.prompts.p1).endsWith(` ${s}`))));
    }
  }
  for (const e of await readEntries(usA, 'train')) assert.equal(e.prompts.p1, 'tumor');

  const blind = await textBlindDice(natA, 'test');
  assert.equal(blind.samples, nat.length);
  assert.ok(blind.dice > 0.2 && blind.dice < 0.8, `text-blind Dice ${blind.dice}`);
  const fov = await fieldOfViewDice(usA, 'test');
  assert.ok(fov.dice > 0.05 && fov.dice < 0.5, `field-of-view Dice ${fov.dice}`);
});

test('field of view: 3x3 closing fills isolated zeros, keeps the outside', () => {
  const w = 7,
    h = 7;
  const g = new Uint8Array(w * h);
  for (let y = 1; y < 6; y++) for (let x = 1; x < 6; x++) g[y * w + x] = 50;
  g[3 * w + 3] = 0; // a speckle zero inside
  const f = fieldOfView(g, w, h);
  assert.equal(f[3 * w + 3], 1);
  assert.equal(f[0], 0);
  assert.equal(
    f.reduce((s, v) => s + v, 0),
    25,
  );
  assert.deepEqual([...close3x3(new Uint8Array(9), 3, 3)], new Array(9).fill(0));
});

test('tiny vocabulary: shipped files = the CLIP BPE restricted to the demo words; prompts round-trip', async () => {
  const full = ClipTokenizer.fromFiles(fullTok().vocab, fullTok().merges);
  const tiny = ClipTokenizer.fromDir(assets);
  assert.equal(tiny.modelMaxLength, TINY_MAX_LENGTH);
  assert.deepEqual([tiny.bosId, tiny.eosId, tiny.padId, tiny.unkId], [0, 1, 1, 2]);
  // The shipped files are what buildTinyVocab makes from the real CLIP vocabulary.
  const rebuilt = buildTinyVocab(fullTok().vocab, fullTok().merges, DEMO_WORDS);
  assert.deepEqual(JSON.parse(readFileSync(path.join(assets, 'vocab.json'), 'utf8')), rebuilt.vocab);
  const shippedMerges = readFileSync(path.join(assets, 'merges.txt'), 'utf8').trim().split('\n').slice(1);
  assert.deepEqual(
    shippedMerges,
    rebuilt.merges.map(([a, b]) => `${a} ${b}`),
  );
  assert.equal(tiny.vocabSize, Object.keys(rebuilt.vocab).length);
  assert.ok(tiny.vocabSize < 40);
  for (const p of await demoPrompts([natA, usA])) {
    const ids = tiny.encode(p).inputIds;
    assert.ok(!ids.includes(tiny.unkId), `"${p}" has an unknown token`);
    assert.ok(ids.length <= TINY_MAX_LENGTH - 4, `"${p}" leaves room for 4 context tokens`);
    assert.deepEqual(tiny.bpeTokens(p), full.bpeTokens(p), `"${p}": same BPE tokens as CLIP`);
    // Remapped ids map back to CLIP's ids.
    assert.deepEqual(
      ids.map((i) => rebuilt.originalIds[i]),
      full.encode(p).inputIds,
    );
    assert.equal(tiny.decode(ids, { skipSpecialTokens: true }), p);
  }
  // Words outside the vocabulary become <|unk|>, never EOS (pooling stays at the real EOS).
  const z = tiny.encode('zebra crossing').inputIds;
  assert.ok(z.includes(tiny.unkId));
  assert.equal(z.indexOf(tiny.eosId), z.length - 1);
});

test('shipped base model: loads strictly, ~1-2 MB, segments by text on source images', async () => {
  const st = await fs.stat(path.join(assets, 'model.safetensors'));
  assert.ok(st.size < 2.5e6, `model.safetensors is ${st.size} bytes`);
  const header = readSafetensorsHeader(path.join(assets, 'model.safetensors'));
  const model = CLIPSegForImageSegmentation.fromPretrained(assets);
  try {
    assert.deepEqual(model.config, tinyClipsegConfig(model.tokenizer!.vocabSize));
    assert.deepEqual(Object.keys(header.header).sort(), [...model.stateDict().keys()].sort());
    assert.equal(header.metadata['tunevlseg.kind'], 'pretrained-clipseg');
  } finally {
    model.dispose();
  }
  // A strict load refuses a missing tensor.
  const broken = path.join(tmp, 'broken-model');
  await fs.mkdir(broken);
  for (const f of ['config.json', 'vocab.json', 'merges.txt', 'tokenizer_config.json'])
    await fs.copyFile(path.join(assets, f), path.join(broken, f));
  const { tensors } = T.loadSafetensors(path.join(assets, 'model.safetensors'));
  const dropped = 'decoder.film_mul.weight';
  T.dispose([tensors.get(dropped)!]);
  tensors.delete(dropped);
  T.saveSafetensors(path.join(broken, 'model.safetensors'), tensors);
  T.dispose([...tensors.values()]);
  assert.throws(() => CLIPSegForImageSegmentation.fromPretrained(broken), /missing keys \(1\): decoder\.film_mul\.weight/);

  // Text matters: the right prompt beats the text-blind baseline and a swapped prompt.
  const dir = path.join(tmp, 'nat-check');
  await generateDomain('natural', dir, { counts: { train: 0, val: 0, test: 16 } });
  const seg = ClipsegFullSegmenter.fromPretrained(assets, { trainable: false });
  try {
    const right = await evaluate(seg, dir, 'test', { promptKey: 'p1', batchSize: 64, workers: 0 });
    const blind = await textBlindDice(dir, 'test');
    assert.ok(right.dice > blind.dice + 0.05, `source Dice ${right.dice} vs text-blind ${blind.dice}`);
    assert.ok(right.dice > 0.6, `source Dice ${right.dice}`);
    // Swap: each mask with the prompt of another object of its image.
    const entries = await readEntries(dir, 'test');
    const swapped = entries.map((e) => {
      const other = entries.find((o) => o.img_name === e.img_name && o !== e)!;
      return { ...e, prompts: { p0: '', p1: other.prompts.p1! } };
    });
    const swapDir = path.join(tmp, 'nat-swap');
    await fs.mkdir(path.join(swapDir, 'anns'), { recursive: true });
    for (const sub of ['images', 'masks']) await fs.symlink(path.join(dir, sub), path.join(swapDir, sub));
    await fs.writeFile(path.join(swapDir, 'anns', 'test.json'), JSON.stringify(swapped));
    const wrong = await evaluate(seg, swapDir, 'test', { promptKey: 'p1', batchSize: 64, workers: 0 });
    assert.ok(wrong.dice < right.dice - 0.3, `swapped prompts ${wrong.dice} vs right ${right.dice}`);
  } finally {
    seg.dispose();
  }
});

test('pretrain: a few steps from scratch (restricted CLIP vocabulary) and from the shipped model; outputs load', async () => {
  const out = path.join(tmp, 'pre-scratch');
  const lines: string[] = [];
  const s = await pretrain({
    dataDir: natA,
    outDir: out,
    tokenizerDir: path.join(fixturesDir(), 'tokenizer'),
    steps: 3,
    batchSize: 4,
    warmupSteps: 1,
    evalEvery: 2,
    logEvery: 1,
    log: (l) => lines.push(l),
  });
  assert.equal(s.steps, 3);
  assert.ok(Number.isFinite(s.finalTrainLoss) && s.val !== null && s.test !== null);
  assert.equal(lines.filter((l) => l.startsWith('step ')).length, 3);
  for (const f of ['config.json', 'model.safetensors', 'vocab.json', 'merges.txt', 'tokenizer_config.json', 'pretrain.json'])
    assert.ok(existsSync(path.join(out, f)), f);
  assert.deepEqual(
    JSON.parse(readFileSync(path.join(out, 'vocab.json'), 'utf8')),
    JSON.parse(readFileSync(path.join(assets, 'vocab.json'), 'utf8')),
  );
  const m = CLIPSegForImageSegmentation.fromPretrained(out);
  assert.equal(m.numParameters(), s.parameters);
  m.dispose();

  // Through the CLI, continuing from the shipped model.
  const out2 = path.join(tmp, 'pre-from');
  const printed: string[] = [];
  const program = new Command().exitOverride();
  registerPretrainCommand(program, { print: (l) => printed.push(l) });
  await program.parseAsync(
    ['pretrain', '--dataset', natA, '--out', out2, '--from', assets, '--steps', '2', '--batch-size', '4', '--eval-every', '0', '--json'],
    { from: 'user' },
  );
  const summary = JSON.parse(printed.at(-1)!) as { steps: number; val: { dice: number } };
  assert.equal(summary.steps, 2);
  assert.ok(summary.val.dice > 0.3, `continuing from the shipped model keeps it working (val Dice ${summary.val.dice})`);
  CLIPSegForImageSegmentation.fromPretrained(out2).dispose();
  assert.throws(() => parseCounts('1,2'), /three non-negative integers/);
});

test('tunevlseg demo: a very short run of every learner writes demo-summary.json', async () => {
  const runDir = path.join(tmp, 'demo-run');
  const printed: string[] = [];
  const program = new Command().exitOverride();
  registerDemoCommand(program, { print: (l) => printed.push(l) });
  await program.parseAsync(
    ['demo', '--run-dir', runDir, '--steps', '1', '--train', '16', '--val', '4', '--test', '6', '--source-test', '4'],
    { from: 'user' },
  );
  const file = path.join(runDir, 'demo-summary.json');
  const s = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown> & { learners: Record<string, Record<string, number>> };
  for (const k of ['source_dice', 'text_blind_dice', 'zero_shot_dice', 'trivial_dice', 'learners', 'tuning_seconds', 'total_seconds'])
    assert.ok(k in s, k);
  for (const k of ['source_dice', 'text_blind_dice', 'zero_shot_dice', 'trivial_dice', 'tuning_seconds', 'total_seconds']) {
    assert.equal(typeof s[k], 'number', k);
    assert.ok(Number.isFinite(s[k] as number), k);
  }
  // By default the demo tunes the registry's prompt learners that serve CLIPSeg, in registry order.
  const prompts = LEARNER_NAMES.filter(
    (n) => (learnerEntry(n).family ?? 'prompt') === 'prompt' && learnerEntry(n).models.includes('clipseg'),
  );
  assert.ok(prompts.length > 1);
  assert.deepEqual(Object.keys(s.learners), prompts);
  for (const [name, r] of Object.entries(s.learners)) {
    assert.ok(r.test_dice! >= 0 && r.test_dice! <= 1, name);
    assert.ok(r.seconds! > 0, name);
  }
  assert.ok(
    printed.some((l) => l.startsWith('| Shared Attention')),
    'the table is printed',
  );
  assert.ok(printed.includes(`summary: ${file}`));
  assert.ok(printed.includes(`run folder: ${runDir}`));
  prompts.forEach((n, i) =>
    assert.ok(
      printed.some((l) => l.startsWith(`[${i + 1}/${prompts.length}] ${learnerEntry(n).title}:`)),
      `progress line of ${n}`,
    ),
  );
  assert.throws(() => parseLearnerList('coop,bogus'), /--learners/);
});

test('the demo command ends with the path of the report of its own runs', async () => {
  const { spawnSync } = await import('node:child_process');
  const { mkdtempSync, rmSync, existsSync, readFileSync, readdirSync, mkdirSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { repoRoot } = await import('./helpers.js');
  const dir = mkdtempSync(join(tmpdir(), 'tvs-demo-cli-'));
  try {
    const r = spawnSync(
      process.execPath,
      [
        join(repoRoot(), 'bin', 'tunevlseg.js'),
        'demo',
        '--steps',
        '2',
        '--train',
        '16',
        '--val',
        '8',
        '--test',
        '8',
        '--source-test',
        '16',
        '--learners',
        'vpt,coop',
        '-q',
        '--run-dir',
        join(dir, 'run'),
      ],
      { encoding: 'utf8', timeout: 180_000 },
    );
    assert.equal(r.status, 0, r.stderr.slice(-2000));
    const lines = r.stdout.trim().split('\n');
    assert.match(
      lines.find((l) => l.startsWith('summary: '))!,
      /demo-summary\.json$/,
    );
    // Where the checkpoints are, the report's path, then what to run next: the best learner in the
    // browser, then one's own data (issue 12's data import, then train), with the offline way.
    assert.match(
      lines.find((l) => l.startsWith('checkpoints: '))!,
      new RegExp(`^checkpoints: ${join(dir, 'run', 'tuning')}/<learner>/checkpoints/best\\.safetensors for vpt, coop`),
    );
    assert.equal(lines.at(-3), `report: ${join(dir, 'run', 'report', 'report.html')}`);
    assert.ok(existsSync(join(dir, 'run', 'report', 'report.html')));
    assert.match(
      lines.at(-2)!,
      new RegExp(
        `^next, in the browser: tunevlseg export --tuned ${join(dir, 'run', 'tuning')}/(vpt|coop) --prompt tumor --out (vpt|coop)-export, then tunevlseg serve (vpt|coop)-export$`,
      ),
    );
    assert.match(
      lines.at(-1)!,
      /^next, on your own data: tunevlseg data import --images <dir> --masks <dir> --class <name> --out my-data, then tunevlseg train --dataset my-data --model learner=(vpt|coop) --model quirks=fixed \(.*offline, add --model <a folder with config\.json \+ model\.safetensors>/,
    );
    // The table shows each learner's trainable parameter count.
    assert.match(
      lines.find((l) => l.startsWith('| method'))!,
      /trainable params/,
    );
    assert.match(
      lines.find((l) => l.startsWith('| VPT'))!,
      /\| +[\d,]+ \| +[\d.]+ \|$/,
    );
    const md = readFileSync(join(dir, 'run', 'report', 'report.md'), 'utf8');
    assert.match(md, /Table 3/);
    // Table 3 carries the demo's baselines, as the terminal table does
    assert.match(md, /\| *Trivial: whole field of view *\|/);
    assert.match(md, /\| *Zero-shot "tumor" *\|/);

    // A second demo into the same folder: refused without --overwrite (nothing mixed), replaced with it
    const demoAgain = (...more: string[]): SpawnSyncReturns<string> =>
      spawnSync(
        process.execPath,
        [
          join(repoRoot(), 'bin', 'tunevlseg.js'),
          ...['demo', '--steps', '1', '--train', '16', '--val', '8', '--test', '8', '--source-test', '16', '--learners', 'coop', '-q'],
          ...['--run-dir', join(dir, 'run'), ...more],
        ],
        { encoding: 'utf8', timeout: 180_000 },
      );
    const again = demoAgain();
    assert.equal(again.status, 1);
    assert.match(again.stderr, /holds an earlier demo run: give another --run-dir, or --overwrite to replace it/);
    assert.ok(existsSync(join(dir, 'run', 'tuning', 'vpt')), 'the earlier run is untouched');
    const over = demoAgain('--overwrite');
    assert.equal(over.status, 0, over.stderr.slice(-2000));
    assert.deepEqual(readdirSync(join(dir, 'run', 'tuning')), ['coop'], "only the new run's learners");
    // A folder that is not a demo run is refused even with --overwrite
    const foreign = join(dir, 'foreign');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'notes.txt'), 'mine');
    const f = spawnSync(
      process.execPath,
      [join(repoRoot(), 'bin', 'tunevlseg.js'), 'demo', '--learners', 'coop', '--run-dir', foreign, '--overwrite'],
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(f.status, 1);
    assert.match(f.stderr, /is not empty and not a demo run folder \(it holds notes\.txt\)/);
    assert.equal(readFileSync(join(foreign, 'notes.txt'), 'utf8'), 'mine');
    assert.match(md, /VPT/);
    assert.match(md, /CoOp/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the demo's next-step line names commands and flags that exist", async () => {
  const { nextSteps } = await import('../src/demo/report.js');
  const NEXT_STEPS = nextSteps({
    run_dir: '/r',
    model_dir: '/m',
    learners: { maple: { test_dice: 0.5 } },
    settings: { quirks: 'fixed' },
  } as never).join('\n');
  const { registerDataCommands } = await import('../src/cli/data.js');
  const { registerTrainCommand } = await import('../src/cli/train.js');
  const program = new Command();
  registerDataCommands(program);
  registerTrainCommand(program);
  const flagsOf = (c: Command | undefined): string[] => (c?.options ?? []).map((o) => o.long ?? '');
  const dataImport = program.commands.find((c) => c.name() === 'data')?.commands.find((c) => c.name() === 'import');
  const train = program.commands.find((c) => c.name() === 'train');
  for (const [cmd, command] of [
    ['data import', dataImport],
    ['train', train],
  ] as const) {
    const used = new RegExp(`tunevlseg ${cmd} ((?:--[a-z-]+ [^\\s(]+ ?)+)`).exec(NEXT_STEPS);
    assert.ok(used && command, `"${cmd}" in: ${NEXT_STEPS}`);
    for (const f of used[1]!.match(/--[a-z-]+/g)!) assert.ok(flagsOf(command).includes(f), `tunevlseg ${cmd} has no ${f}`);
  }
});
