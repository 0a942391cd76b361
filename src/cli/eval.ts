// `tunevlseg eval`: scores a tuned checkpoint on a dataset split (Dice/IoU per sample and mean)
// and optionally writes its predictions (masks, probability maps, overlays) at each image's
// original size; or predicts a folder of images with one prompt. Parses flags, reads the target
// (a run folder or a checkpoint file: src/train/eval-source.ts), calls `evaluateCheckpoint`
// (src/inference) and prints. Nothing here loads libtorch until the command runs.
import type { Command } from 'commander';
import { SPLITS } from '../data/format.js';
import type { BuildSegmenter } from '../train/records.js';
import type { CheckpointEvaluation } from '../inference/evaluate-checkpoint.js';
import { EVAL_AUGMENT_MODES } from '../inference/eval-reading.js';
import { EVAL_PROTOCOLS, DEFAULT_TABLE_PROTOCOL, parseProtocol } from '../inference/protocol-names.js';
import { stringifyJson } from '../util/json.js';
import { factoryOf, printerOf, type CommandDeps } from './deps.js';
import { parseEvalOptions } from './eval-options.js';
import { examples, flag, oneOf, option } from './flags.js';
import { modelFlagAssignments } from './model-flag.js';
import { predictionFlags } from './prediction-flags.js';
import { progressOf } from './progress.js';

/** What `runEval` returns (the library's `CheckpointEvaluation`). */
export type EvalCommandResult = CheckpointEvaluation;

/** What `tunevlseg eval` does, as a function: flag values in, the evaluation out. */
export async function runEval(
  target: string,
  raw: Record<string, unknown>,
  buildSegmenter: BuildSegmenter,
  onProgress?: (done: number, total: number) => void,
): Promise<EvalCommandResult> {
  const o = parseEvalOptions(raw);
  const protocol = o.protocol === undefined ? DEFAULT_TABLE_PROTOCOL : parseProtocol(o.protocol);
  const { evalSourceOf } = await import('../train/eval-source.js');
  const { evaluateCheckpoint } = await import('../inference/evaluate-checkpoint.js');
  const model = modelFlagAssignments(o.model).map(([k, v]): [string, unknown] => [k, v]);
  const source = evalSourceOf(target, { checkpoint: o.checkpoint, config: o.config, model }, buildSegmenter);
  return evaluateCheckpoint(source, { ...o, protocol, ...(onProgress ? { onProgress } : {}) });
}

/** The result as lines: the scores under each protocol shown, per-class Dice, where predictions went. */
function resultLines(r: EvalCommandResult, allProtocols: boolean): string[] {
  const lines = [...r.notes];
  if (r.evaluation) {
    const e = r.evaluation;
    lines.push(
      `${r.split}${r.reading?.augmented ? ' (augmented as in training)' : ''}: ${e.samples} samples  loss ${e.loss.toFixed(4)}  (${r.checkpoint})`,
    );
    for (const p of allProtocols ? EVAL_PROTOCOLS : [r.protocol]) {
      const m = e.protocols?.[p];
      if (m)
        lines.push(
          `  ${p.padEnd(27)} Dice ${m.dice.toFixed(4)}  IoU ${m.iou.toFixed(4)}${m.iouAggregate === 'global' ? ' (global)' : ''}${p === r.protocol ? '  <-' : ''}`,
        );
    }
  }
  if (r.classes) {
    const c = r.classes;
    lines.push(`${c.split}: per-class Dice of the label maps (${r.checkpoint})`);
    for (const k of c.classes)
      lines.push(`  ${k.name.padEnd(24)} Dice ${Number.isNaN(k.dice) ? '   -  ' : k.dice.toFixed(4)}  (${k.entries} entries)`);
    lines.push(
      `  ${'mean'.padEnd(24)} Dice ${c.meanDice.toFixed(4)}${c.unmatched > 0 ? `  (${c.unmatched} entries of other classes left out)` : ''}`,
    );
    if (c.outDir) lines.push(`label maps -> ${c.outDir}`);
  }
  if (r.predictions) lines.push(`predictions: ${r.predictions.files} images -> ${r.predictions.outDir}`);
  return lines;
}

export function registerEvalCommand(program: Command, deps: CommandDeps = {}): Command {
  const cmd = program
    .command('eval <target>')
    .description('score a tuned checkpoint (a run folder or a .safetensors file) on a split; --out writes predictions');
  option(cmd, '--checkpoint <which>', 'for a run folder: best, last, or a checkpoint path', { default: 'best' });
  flag(cmd, 'dataset', { defaultText: "the run's data.dir" });
  option(cmd, '--split <split>', `split to score: ${SPLITS.join(' | ')}`, { default: 'test', parse: oneOf(SPLITS) });
  option(cmd, '--images <dir>', 'predict every image of a folder instead (needs --prompt and --out; no scores)');
  option(cmd, '--prompt-key <key>', "prompt key of the split's entries", { defaultText: "the run's" });
  option(cmd, '--protocol <name>', `evaluation protocol to report: ${EVAL_PROTOCOLS.join(' | ')} (docs/protocols.md)`, {
    defaultText: DEFAULT_TABLE_PROTOCOL,
    parse: oneOf(EVAL_PROTOCOLS),
  });
  predictionFlags(cmd, {
    prompt: { help: 'the prompt for --images, or an override prompt for the split' },
    prompts: {
      help: 'several classes: "a,b,c", @labels.txt or @<dataset dir>; per-class Dice of the label maps (argmax over the classes, background below --threshold) and their mean; --out keeps the maps',
    },
    out: { help: "write masks, 8-bit probability maps (the reference's bicubic resize + save_image) and overlays at original size there" },
    batchSize: { defaultText: "8; an augmented evaluation of a run: the run's evaluation batch size" },
    imageSize: { defaultText: "the run's or the model's" },
    threshold: { default: 0.5 },
    precision: { defaultText: "the run's, else 32" },
    tf32: { default: 'auto' },
  });
  option(
    cmd,
    '--eval-augment <mode>',
    'auto (a run folder: val/test through the training augmentation where its training read them so: quirks reference on VOC/Cityscapes, or data.evalAugment) | on | off',
    { default: 'auto', parse: oneOf(EVAL_AUGMENT_MODES) },
  );
  flag(cmd, 'loaderThreads', { defaultText: 'cores, at most 4' });
  option(cmd, '--results <file>', 'write per-sample scores (JSON) there');
  flag(cmd, 'json', { help: 'print the result as one JSON line' });
  flag(cmd, 'quiet', { help: 'no progress bar' });
  flag(cmd, 'config', { help: 'take the model config from this config file' });
  flag(cmd, 'model');
  examples(cmd, [
    'tunevlseg eval runs/k1',
    'tunevlseg eval runs/k1 --dataset data/cvc-clinicdb --out preds',
    'tunevlseg eval runs/k1/checkpoints/last.safetensors --dataset data/kvasir --protocol model-resolution --json',
  ]);
  return cmd.action(async (target: string, flags: Record<string, unknown>) => {
    const print = printerOf(deps);
    const build = await factoryOf(deps);
    const progress = progressOf('eval', 'batches', {
      quiet: flags.quiet === true || flags.json === true,
      ...(deps.stream ? { stream: deps.stream } : {}),
    });
    // Ctrl-C: exit at once; an unfinished --out's new files are removed by predictFolder's exit hook.
    const onSigint = (): void => process.exit(130);
    process.once('SIGINT', onSigint);
    let r: EvalCommandResult;
    try {
      r = await runEval(target, flags, build, progress.onProgress);
    } finally {
      progress.stop();
      process.off('SIGINT', onSigint);
    }
    if (flags.json) print(stringifyJson(r));
    else for (const line of resultLines(r, flags.protocol === undefined)) print(line);
  });
}
