// `tunevlseg pretrain`: end-to-end training of a whole CLIPSeg (every weight trainable) on a
// dataset folder, from scratch or from a model folder; writes a loadable model folder. Makes the
// demo's base model (docs/demo.md). Thin over src/demo/pretrain.ts.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pretrain } from '../demo/pretrain.js';
import { DEMO_DOMAINS, generateDomain, isDemoDomain } from '../demo/domains.js';
import type { Split } from '../data/format.js';

interface PretrainFlags {
  data: string;
  out: string;
  generate?: string;
  counts?: string;
  from?: string;
  tokenizer?: string;
  restrictVocab: boolean;
  steps: string;
  batchSize: string;
  lr: string;
  weightDecay: string;
  warmup: string;
  lambdaCe: string;
  seed: string;
  evalEvery: string;
  threads: string;
  workers: string;
  logEvery: string;
  json?: boolean;
}

function num(flag: string, v: string, integer: boolean): number {
  const x = Number(v);
  if (!Number.isFinite(x) || (integer && !Number.isInteger(x))) throw new Error(`${flag}: expected ${integer ? 'an integer' : 'a number'}, got ${JSON.stringify(v)}`);
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
  return program
    .command('pretrain')
    .description('train every weight of a CLIPSeg on a dataset folder (from scratch or from a model folder); writes a model folder')
    .requiredOption('--data <dir>', 'dataset folder (images/, masks/, anns/)')
    .requiredOption('--out <dir>', 'output model folder (config.json, model.safetensors, tokenizer files, pretrain.json)')
    .option('--generate <domain>', `first write a demo domain into --data (${DEMO_DOMAINS.join('|')})`)
    .option('--counts <train,val,test>', 'images per split for --generate (default: the domain\'s full counts)')
    .option('--from <dir>', 'start from this model folder instead of from scratch')
    .option('--tokenizer <dir>', 'from scratch: a CLIP tokenizer folder (vocab.json + merges.txt)')
    .option('--no-restrict-vocab', 'keep the whole vocabulary (default: restrict it to the demo words)')
    .option('--steps <n>', 'optimizer steps', '2500')
    .option('--batch-size <n>', 'samples per step', '32')
    .option('--lr <x>', 'AdamW peak learning rate', '2e-3')
    .option('--weight-decay <x>', 'AdamW weight decay (Linear/Conv weights)', '0.05')
    .option('--warmup <n>', 'linear warm-up steps before the cosine decay', '100')
    .option('--lambda-ce <x>', 'BCE weight (Dice weight 1)', '0.2')
    .option('--seed <n>', 'seed of the initial weights, order and prompt choice', '0')
    .option('--eval-every <n>', 'validation Dice every n steps (0: only at the end)', '500')
    .option('--threads <n>', 'libtorch threads', '1')
    .option('--workers <n>', 'loader threads', '1')
    .option('--log-every <n>', 'a progress line every n steps', '50')
    .option('--json', 'print the summary as one JSON line at the end')
    .action(async (f: PretrainFlags) => {
      const print = deps.print ?? ((l: string) => console.log(l));
      if (f.generate !== undefined) {
        if (!isDemoDomain(f.generate)) throw new Error(`--generate: expected one of ${DEMO_DOMAINS.join(', ')}, got ${JSON.stringify(f.generate)}`);
        const t0 = performance.now();
        const s = await generateDomain(f.generate, f.data, f.counts ? { counts: parseCounts(f.counts) } : {});
        print(`generated ${f.generate}: ${s.splits.train.entries}/${s.splits.val.entries}/${s.splits.test.entries} train/val/test entries in ${s.dir} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
      } else if (f.counts !== undefined) throw new Error('--counts needs --generate');
      if (!existsSync(path.join(f.data, 'anns', 'train.json'))) throw new Error(`--data ${f.data}: no anns/train.json (use --generate natural to write the demo's source domain)`);
      const summary = await pretrain({
        dataDir: f.data, outDir: f.out, from: f.from ?? null, tokenizerDir: f.tokenizer ?? null, restrictVocab: f.restrictVocab,
        steps: num('--steps', f.steps, true), batchSize: num('--batch-size', f.batchSize, true), lr: num('--lr', f.lr, false),
        weightDecay: num('--weight-decay', f.weightDecay, false), warmupSteps: num('--warmup', f.warmup, true),
        lambdaCe: num('--lambda-ce', f.lambdaCe, false), seed: num('--seed', f.seed, true), evalEvery: num('--eval-every', f.evalEvery, true),
        threads: num('--threads', f.threads, true), workers: num('--workers', f.workers, true), logEvery: num('--log-every', f.logEvery, true),
        log: print,
      });
      if (f.json) print(JSON.stringify(summary));
    });
}
