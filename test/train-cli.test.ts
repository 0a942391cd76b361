// `tunevlseg train` / `tunevlseg eval` through commander, with TinySegmenter injected as the
// factory: config file + flag overrides, errors naming the key and its source, a full run,
// evaluation and prediction of the run folder, --resume rules.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';

import * as T from '../src/torch/index.js';
import { generateSyntheticDataset } from '../src/data/synthetic.js';
import { TinySegmenter, type TrainSummary } from '../src/index.js';
import { registerTrainCommand } from '../src/cli/train.js';
import { registerEvalCommand, type EvalCommandResult } from '../src/cli/eval.js';

T.setNumThreads(1);

let tmp: string;
let data: string;
before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'tunevlseg-cli-'));
  data = path.join(tmp, 'us');
  await generateSyntheticDataset('ultrasound', data, { size: 32, counts: { train: 12, val: 4, test: 4 }, seed: 2 });
});
after(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

const built: Record<string, unknown>[] = [];
async function cli(...args: string[]): Promise<string[]> {
  const out: string[] = [];
  const program = new Command().exitOverride();
  const deps = {
    buildSegmenter: (model: Record<string, unknown>) => {
      built.push(model);
      return new TinySegmenter({ imageSize: 32, channels: Number(model.channels ?? 8) });
    },
    print: (l: string) => out.push(l),
  };
  registerTrainCommand(program, deps);
  registerEvalCommand(program, deps);
  await program.parseAsync(['node', 'tunevlseg', ...args]);
  return out;
}

test('train --print-config: defaults < file < key flags < --model < --set', async () => {
  const file = path.join(tmp, 'cfg.yaml');
  await fs.writeFile(
    file,
    `name: from-file\ndata:\n  dir: ${data}\n  imageSize: 32\nlr: 0.001\nmodel:\n  learner: vpt\n  depth: 1\naugment:\n  p: 0.3\n`,
  );
  const [json] = await cli(
    'train',
    '-c',
    file,
    '--lr',
    '0.05',
    '--early-stopping-patience',
    '3',
    '--model',
    'depth=4',
    '--set',
    'augment.rotate=10',
    '--print-config',
  );
  const c = JSON.parse(json!) as Record<string, any>;
  assert.equal(c.name, 'from-file');
  assert.equal(c.lr, 0.05);
  assert.equal(c.earlyStopping.patience, 3);
  assert.equal(c.earlyStopping.minDelta, 1e-4);
  assert.deepEqual(c.model, { learner: 'vpt', depth: 4 });
  assert.equal(c.augment.p, 0.3);
  assert.equal(c.augment.rotate, 10);
  assert.equal(c.data.imageSize, 32);
  assert.equal(c.effectiveBatchSize, 32);
});

test('train: bad values are reported with the key and where they came from', async () => {
  const file = path.join(tmp, 'bad.yaml');
  await fs.writeFile(file, `data:\n  dir: ${data}\nplateau:\n  factor: 2\n`);
  await assert.rejects(cli('train', '-c', file, '--lr', 'fast', '--print-config'), (e: Error) => {
    assert.match(e.message, /config key "lr": .*expected number.*\(from --lr\)/);
    assert.match(e.message, /config key "plateau\.factor": .*\(from .*bad\.yaml\)/);
    return true;
  });
  await assert.rejects(
    cli('train', '--dataset', data, '--set', 'optimizer.lr=1', '--print-config'),
    /config key "optimizer": unknown key \(from --set optimizer\.lr=1\)/,
  );
  await assert.rejects(cli('train', '--print-config'), /config key "data": missing/);
});

test('train then eval a run folder: summary, scores and predictions agree', async () => {
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
    'cli',
    '--runs-dir',
    runs,
    '--batch-size',
    '4',
    '--effective-batch-size',
    '4',
    '--min-epochs',
    '1',
    '--max-epochs',
    '2',
    '--lr',
    '0.05',
    '--model',
    'channels=6',
    '--progress',
    'none',
    '--json',
  );
  const summary = JSON.parse(out[out.length - 1]!) as TrainSummary;
  assert.equal(summary.epochs, 2);
  assert.deepEqual(built[built.length - 1], { channels: 6 });
  const run = path.join(runs, 'cli');
  assert.ok(existsSync(path.join(run, 'summary.json')));
  const [evalJson] = await cli('eval', run, '--out', path.join(tmp, 'pred'), '--loader-threads', '0', '--json');
  const r = JSON.parse(evalJson!) as EvalCommandResult;
  assert.deepEqual(built[built.length - 1], { channels: 6 }); // the run's model config
  assert.equal(r.split, 'test');
  assert.equal(r.evaluation!.dice, summary.test!.dice);
  assert.equal(r.evaluation!.loss, summary.test!.loss);
  // Every protocol is kept apart, in the run's summary and in eval; eval reports original-size by default.
  assert.equal(summary.metricsProtocol, 'model-resolution');
  assert.deepEqual([summary.quirks, summary.batchSize, summary.checkpointSelection], ['reference', 4, 'model-resolution-reference']);
  assert.ok(Number.isFinite(summary.lastEpoch.valSelectDice));
  assert.deepEqual(Object.keys(summary.test!.protocols!).sort(), ['model-resolution', 'model-resolution-reference', 'original-size']);
  assert.equal(summary.test!.protocols!['model-resolution']!.dice, summary.test!.dice);
  assert.deepEqual(r.evaluation!.protocols, summary.test!.protocols);
  assert.equal(r.protocol, 'original-size');
  assert.equal(r.score!.dice, summary.test!.protocols!['original-size']!.dice);
  assert.equal(r.predictions!.files, summary.test!.samples);
  assert.ok(existsSync(path.join(tmp, 'pred', 'predictions.json')));
  // a checkpoint file on its own: model config from its metadata, data from --dataset
  const results = path.join(tmp, 'val-scores.json');
  const [line] = await cli(
    'eval',
    path.join(run, 'checkpoints', 'best.safetensors'),
    '--dataset',
    data,
    '--split',
    'val',
    '--image-size',
    '32',
    '--loader-threads',
    '0',
    '--results',
    results,
  );
  assert.match(line!, new RegExp(`^val: ${summary.val.samples} samples  loss`));
  const [, ...protocolLines] = await cli(
    'eval',
    path.join(run, 'checkpoints', 'best.safetensors'),
    '--dataset',
    data,
    '--split',
    'val',
    '--image-size',
    '32',
    '--loader-threads',
    '0',
    '--protocol',
    'model-resolution',
  );
  assert.equal(protocolLines.length, 1);
  assert.match(protocolLines[0]!, new RegExp(`model-resolution +Dice ${summary.val.dice.toFixed(4)}`));
  await assert.rejects(
    cli('eval', run, '--protocol', 'paper'),
    /expected model-resolution-reference \| original-size \| model-resolution, got "paper"/,
  );
  assert.equal((JSON.parse(readFileSync(results, 'utf8')) as { perSample: unknown[] }).perSample.length, summary.val.samples);
  await assert.rejects(cli('eval', run, '--batch-size', 'zero'), /--batch-size <n>' argument 'zero' is invalid\. expected an integer >= 1/);
  // --resume: a finished run is refused, config flags are refused
  await assert.rejects(cli('train', '--resume', run), /already finished/);
  await assert.rejects(cli('train', '--resume', run, '--lr', '0.1'), /config flags are not allowed with it \(got --lr\)/);
  await assert.rejects(cli('train', '--resume', 'nope', '--runs-dir', runs), /no run folder there/);
});
