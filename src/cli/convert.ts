// `tunevlseg convert <file> --to <dir> [--model cris|clip-rn50]`: the one explicit step that reads
// a pickled PyTorch checkpoint (.pth/.pt); the work is src/models/cris/convert.ts. Everything
// else reads safetensors only.
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { defaultKeyMap, type ConvertModel } from '../models/cris/key-map.js';
import { convertCheckpoint } from '../models/cris/convert.js';
import type { CrisUnshapedHyper } from '../models/cris/config.js';

const intArg = (name: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name}: expected a positive integer, got ${JSON.stringify(v)}`);
  return n;
};

/** Adds `convert <file> --to <dir> [--model cris|clip-rn50]` to the tunevlseg program. */
export function registerConvertCommand(program: Command): Command {
  return program
    .command('convert')
    .description('convert a pickled PyTorch checkpoint (.pth/.pt) into model.safetensors + config.json (the only step that reads pickles)')
    .argument('<file>', 'the .pth/.pt checkpoint')
    .requiredOption('--to <dir>', 'output folder (created)')
    .addOption(new Option('--model <model>', 'what the checkpoint holds').choices(['cris', 'clip-rn50']).default('cris'))
    .option('--unwrap <name...>', 'keep only keys under <name>. and drop that prefix (default: state_dict)')
    .option('--strip-prefix <prefix...>', 'prefixes removed from every key that has them (default: module.)')
    .option('--drop <key...>', 'exact keys to leave out')
    .option('--heads <n>', 'CRIS decoder heads (not recorded in weights; paper: 8)', intArg('heads'))
    .option('--img-size <n>', 'CRIS output size (paper: 416)', intArg('img-size'))
    .option('--dropout <p>', 'CRIS decoder dropout (paper: 0.2; used by e2e runs only: prompt tuning trains with 0, as the original)', (v: string) => {
      const p = Number(v);
      if (!(p >= 0 && p <= 1)) throw new Error(`--dropout: expected a number in [0, 1], got ${JSON.stringify(v)}`);
      return p;
    })
    .action(async (file: string, o: { to: string; model: ConvertModel; unwrap?: string[]; stripPrefix?: string[]; drop?: string[]; heads?: number; imgSize?: number; dropout?: number }) => {
      const keyMap = defaultKeyMap(o.model);
      if (o.unwrap) keyMap.unwrap = o.unwrap;
      if (o.stripPrefix) keyMap.stripPrefixes = o.stripPrefix;
      if (o.drop) keyMap.drop = [...keyMap.drop, ...o.drop];
      const hyper: Partial<CrisUnshapedHyper> = {};
      if (o.heads !== undefined) hyper.numHead = o.heads;
      if (o.imgSize !== undefined) hyper.imgSize = o.imgSize;
      if (o.dropout !== undefined) hyper.dropout = o.dropout;
      const r = await convertCheckpoint(file, o.to, { model: o.model, keyMap, hyper });
      console.log(`converted ${file} (${r.reader}) -> ${join(r.outDir, 'model.safetensors')} (${r.tensors} tensors) + config.json` +
        (r.skipped.length ? `; left out ${r.skipped.length} non-model entries` : ''));
    });
}
