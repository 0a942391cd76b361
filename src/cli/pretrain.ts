// `tunevlseg pretrain`: end-to-end training of a whole CLIPSeg (every weight trainable) on a
// dataset folder, from scratch or from a model folder; writes a loadable model folder. Makes the
// demo's base model (docs/demo.md). Thin over src/demo/pretrain.ts.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { DEMO_DOMAINS, generateDomain, isDemoDomain } from '../demo/domains.js';
import type { Split } from '../data/format.js';
import { examples, flag, option } from './flags.js';

interface PretrainFlags {
  dataset: string;
  out: string;
  generate?: string;
  counts?: string;
  from?: string;
  tokenizer?: string;
  restrictVocab: boolean;
  steps: string;
  batchSize: number;
  lr: string;
  weightDecay: string;
  warmup: string;
  lambdaCe: string;
  seed: number;
  evalEvery: string;
  threads: number;
  loaderThreads: number;
  logEvery: string;
  json?: boolean;
}

function num(flag: string, v: string, integer: boolean): number {
  const x = Number(v);
  if (!Number.isFinite(x) || (integer && !Number.isInteger(x)))
    throw new Error(`${flag}: expected ${integer ? 'an integer' : 'a number'}, got ${JSON.stringify(v)}`);
  return x;
}

/** "8000,200,400" -> {train, val, test}. */
export function parseCounts(v: string): Record<Split, number> {
  const parts = v.split(',').map((s) => Number(s.trim()));
  if (parts.length !== 3 || parts.some((x) => !Number.isInteger(x) || x < 0)) {
    throw new Error(`--counts: expected three non-negative integers "train,val,test", got ${JSON.stringify(v)}`);
  }
  return { train: parts[0]!, val: parts[1]!, test: parts[2]! };
}

export function registerPretrainCommand(program: Command, deps: { print?: (line: string) => void } = {}): Command {
  const cmd = program
    .command('pretrain')
    .description('train every weight of a CLIPSeg on a dataset folder (from scratch or from a model folder); writes a model folder');
  flag(cmd, 'dataset', { required: true });
  flag(cmd, 'out', { required: true, help: 'output model folder (config.json, model.safetensors, tokenizer files, pretrain.json)' });
  option(cmd, '--generate <domain>', `first write a demo domain into --dataset: ${DEMO_DOMAINS.join(' | ')}`);
  option(cmd, '--counts <train,val,test>', 'images per split for --generate', { defaultText: "the domain's full counts" });
  option(cmd, '--from <dir>', 'start from this model folder instead of from scratch');
  flag(cmd, 'tokenizer', { help: 'from scratch: a CLIP tokenizer folder (vocab.json + merges.txt)' });
  option(cmd, '--no-restrict-vocab', 'keep the whole vocabulary (default: restrict it to the demo words)');
  option(cmd, '--steps <n>', 'optimizer steps', { default: '2500' });
  flag(cmd, 'batchSize', { default: 32, help: 'samples per step' });
  option(cmd, '--lr <x>', 'AdamW peak learning rate', { default: '2e-3' });
  option(cmd, '--weight-decay <x>', 'AdamW weight decay (Linear/Conv weights)', { default: '0.05' });
  option(cmd, '--warmup <n>', 'linear warm-up steps before the cosine decay', { default: '100' });
  option(cmd, '--lambda-ce <x>', 'BCE weight (Dice weight 1)', { default: '0.2' });
  flag(cmd, 'seed', { default: 0, help: 'seed of the initial weights, order and prompt choice' });
  option(cmd, '--eval-every <n>', 'validation Dice every n steps (0: only at the end)', { default: '500' });
  flag(cmd, 'threads', { default: 1 });
  flag(cmd, 'loaderThreads', { default: 1 });
  option(cmd, '--log-every <n>', 'a progress line every n steps', { default: '50' });
  flag(cmd, 'json', { help: 'print the summary as one JSON line at the end' });
  examples(cmd, [
    'tunevlseg pretrain --generate natural --dataset data/natural --tokenizer tokenizer/ --out assets/demo',
    'tunevlseg pretrain --dataset data/natural --from assets/demo --steps 500 --out tiny-more',
  ]);
  return cmd.action(async (f: PretrainFlags) => {
    const print = deps.print ?? ((l: string) => console.log(l));
    if (f.generate !== undefined) {
      if (!isDemoDomain(f.generate))
        throw new Error(`--generate: expected one of ${DEMO_DOMAINS.join(', ')}, got ${JSON.stringify(f.generate)}`);
      const t0 = performance.now();
      const s = await generateDomain(f.generate, f.dataset, f.counts ? { counts: parseCounts(f.counts) } : {});
      print(
        `generated ${f.generate}: ${s.splits.train.entries}/${s.splits.val.entries}/${s.splits.test.entries} train/val/test entries in ${s.dir} (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
      );
    } else if (f.counts !== undefined) throw new Error('--counts needs --generate');
    if (!existsSync(path.join(f.dataset, 'anns', 'train.json')))
      throw new Error(`--dataset ${f.dataset}: no anns/train.json (use --generate natural to write the demo's source domain)`);
    const { pretrain } = await import('../demo/pretrain.js');
    const summary = await pretrain({
      dataDir: f.dataset,
      outDir: f.out,
      from: f.from ?? null,
      tokenizerDir: f.tokenizer ?? null,
      restrictVocab: f.restrictVocab,
      steps: num('--steps', f.steps, true),
      batchSize: f.batchSize,
      lr: num('--lr', f.lr, false),
      weightDecay: num('--weight-decay', f.weightDecay, false),
      warmupSteps: num('--warmup', f.warmup, true),
      lambdaCe: num('--lambda-ce', f.lambdaCe, false),
      seed: f.seed,
      evalEvery: num('--eval-every', f.evalEvery, true),
      threads: f.threads,
      workers: f.loaderThreads,
      logEvery: num('--log-every', f.logEvery, true),
      log: print,
    });
    if (f.json) print(JSON.stringify(summary));
  });
}
