// `tunevlseg convert <file> --out <dir> [--model cris|clip-rn50]`: the one explicit step that reads
// a pickled PyTorch checkpoint (.pth/.pt); the work is src/models/cris/convert.ts. Everything
// else reads safetensors only.
import { join } from 'node:path';
import type { Command } from 'commander';
import { examples, flag, oneOf, option } from './flags.js';
import { defaultKeyMap, type ConvertModel } from '../models/cris/key-map.js';
import type { CrisUnshapedHyper } from '../models/cris/config.js';

const intArg =
  (name: string) =>
  (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name}: expected a positive integer, got ${JSON.stringify(v)}`);
    return n;
  };

/** Adds `convert <file> --out <dir> [--model cris|clip-rn50]` to the tunevlseg program. */
export function registerConvertCommand(program: Command): Command {
  const cmd = program
    .command('convert')
    .description('convert a pickled PyTorch checkpoint (.pth/.pt) into model.safetensors + config.json (the only step that reads pickles)')
    .argument('<file>', 'the .pth/.pt checkpoint');
  flag(cmd, 'out', { required: true, help: 'output model folder (created)', old: ['--to'] });
  option(cmd, '--model <model>', 'the model the checkpoint holds: cris | clip-rn50', {
    default: 'cris',
    parse: oneOf(['cris', 'clip-rn50']),
  });
  option(cmd, '--unwrap <name...>', 'keep only keys under <name>. and drop that prefix', { defaultText: 'state_dict' });
  option(cmd, '--strip-prefix <prefix...>', 'prefixes removed from every key that has them', { defaultText: 'module.' });
  option(cmd, '--drop <key...>', 'exact keys to leave out');
  option(cmd, '--heads <n>', 'CRIS decoder heads (not recorded in weights; paper: 8)', { parse: intArg('heads') });
  flag(cmd, 'imageSize', { help: 'CRIS output size (paper: 416)' });
  option(cmd, '--dropout <p>', 'CRIS decoder dropout (paper: 0.2; used by e2e runs only: prompt tuning trains with 0, as the original)', {
    parse: (v: string) => {
      const p = Number(v);
      if (!(p >= 0 && p <= 1)) throw new Error(`--dropout: expected a number in [0, 1], got ${JSON.stringify(v)}`);
      return p;
    },
  });
  examples(cmd, [
    'tunevlseg convert cris_best.pth --out weights/cris',
    'tunevlseg convert RN50.pt --model clip-rn50 --out weights/clip-rn50',
  ]);
  return cmd.action(
    async (
      file: string,
      o: {
        out: string;
        model: ConvertModel;
        unwrap?: string[];
        stripPrefix?: string[];
        drop?: string[];
        heads?: number;
        imageSize?: number;
        dropout?: number;
      },
    ) => {
      const keyMap = defaultKeyMap(o.model);
      if (o.unwrap) keyMap.unwrap = o.unwrap;
      if (o.stripPrefix) keyMap.stripPrefixes = o.stripPrefix;
      if (o.drop) keyMap.drop = [...keyMap.drop, ...o.drop];
      const hyper: Partial<CrisUnshapedHyper> = {};
      if (o.heads !== undefined) hyper.numHead = o.heads;
      if (o.imageSize !== undefined) hyper.imgSize = o.imageSize;
      if (o.dropout !== undefined) hyper.dropout = o.dropout;
      const { convertCheckpoint } = await import('../models/cris/convert.js');
      const r = await convertCheckpoint(file, o.out, { model: o.model, keyMap, hyper });
      console.log(
        `converted ${file} (${r.reader}) -> ${join(r.outDir, 'model.safetensors')} (${r.tensors} tensors) + config.json` +
          (r.skipped.length ? `; left out ${r.skipped.length} non-model entries` : ''),
      );
    },
  );
}
