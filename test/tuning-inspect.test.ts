// `tunevlseg inspect`: trainable names, shapes and counts, from presets (random weights) and folders.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Command } from 'commander';
import { registerInspectCommand, runInspect, inspectConfig, type InspectResult } from '../src/cli/inspect.js';
import { fixturesDir } from './helpers.js';

const TINY = join(fixturesDir(), 'clipseg-tiny');

async function cli(args: string[]): Promise<string> {
  const out: string[] = [];
  const program = new Command().exitOverride();
  registerInspectCommand(program, (s) => out.push(s));
  await program.parseAsync(['node', 'tunevlseg', 'inspect', ...args]);
  return out.join('\n');
}

test('inspect a folder: names, shapes, decay flags and the total (the fixture count)', async () => {
  const json = JSON.parse(await cli(['--model', TINY, '--learner', 'maple', '--depth', '3', '--json'])) as InspectResult;
  assert.equal(json.total, 19794);
  assert.equal(json.depth, 3);
  assert.equal(json.numContext, 4);
  const cv = json.parameters.find((p) => p.name === 'context_learner.context_vectors')!;
  assert.deepEqual(cv, { name: 'context_learner.context_vectors', shape: [3, 4, 32], numel: 384, decay: false });
  assert.equal(json.parameters.find((p) => p.name === 'context_learner.projection_layers.2.2.weight')!.decay, true);
  const text = await cli(['--model', TINY, '--learner', 'shared_attn', '--depth', '1', '--set', 'feedforward=64', '--set', 'dropout=0']);
  assert.match(text, /context_learner\.projection_layers\.0\.self_attn\.in_proj_weight\s+\[288, 96\]\s+27,648\s+yes/);
  assert.match(text, /total trainable: 50,866 values in 16 tensors/);
  assert.deepEqual(inspectConfig({ model: TINY, set: ['intermediateDim=null', 'contextInitializer=a photo'] }), {
    model: TINY,
    learner: 'vpt',
    randomWeights: true,
    intermediateDim: null,
    contextInitializer: 'a photo',
  });
  await assert.rejects(cli(['--model', TINY, '--learner', 'vpt', '--set', 'heads=4']), /learner vpt: unknown option "heads"/);
});

test('inspect presets without weights: the paper configurations (bench_reference.json counts)', async () => {
  assert.equal((await runInspect({ model: 'rd64-refined', learner: 'vpt', depth: '9' })).total, 29250);
  const cris = await runInspect({ model: 'cris-rn50', learner: 'coop', depth: '1' });
  assert.equal(cris.total, 512 * 4 + 512 * 64 + 64 * 25 + 1 + 1);
});

test('inspect --weights with a preset or hub id: ignored, and the result says why (inspect never downloads)', async () => {
  const r = await runInspect({ model: 'cris-tiny', learner: 'coop', weights: true, tokenizer: join(fixturesDir(), 'tokenizer') });
  assert.match(r.note ?? '', /--weights ignored: "cris-tiny" is not a local model folder, and inspect never downloads/);
  const folder = await runInspect({ model: TINY, learner: 'coop', weights: true });
  assert.equal(folder.note, undefined, "a folder's weights are loaded: no note");
});
