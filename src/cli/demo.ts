// `tunevlseg demo`: the built-in, offline demo (docs/demo.md): a tiny CLIPSeg pretrained on
// synthetic natural shapes is prompt-tuned with every CLIPSeg learner on synthetic ultrasound
// ("tumor", a word it never saw); prints a Table-3-style table and writes demo-summary.json.
// Thin over src/demo/run.ts.
import type { Command } from 'commander';
import { DOMAIN_SPECS } from '../demo/domains.js';
import type { DemoOptions, DemoSummary } from '../demo/run.js';
import { DEMO_LR, DEMO_STEPS, demoAllLearners, demoDefaultLearners } from '../demo/settings.js';
import { examples, flag, option } from './flags.js';
import { demoOptionsOf, type DemoFlags } from './demo-flags.js';

export function registerDemoCommand(program: Command, deps: { print?: (line: string) => void } = {}): Command {
  const cmd = program
    .command('demo')
    .description(
      'offline demo: prompt-tune every CLIPSeg learner of a tiny shipped model on synthetic ultrasound (a few minutes on a CPU)',
    );
  option(cmd, '--run-dir <dir>', 'run folder (empty or new; --overwrite replaces an earlier demo run there)', {
    defaultText: 'runs/demo-<timestamp>',
  });
  flag(cmd, 'overwrite', { help: 'replace an earlier demo run in --run-dir (a folder holding anything else is refused)' });
  flag(cmd, 'model', {
    help: "base model folder, or key=value for a model config key of every learner's run; repeatable",
    defaultText: 'the shipped assets/demo',
  });
  flag(cmd, 'learners', {
    help: `comma-separated learners, or all (${demoAllLearners().join(',')})`,
    defaultText: `the paper's six: ${demoDefaultLearners().join(',')}`,
  });
  option(cmd, '--steps <n>', 'optimizer steps per learner, rounded up to whole epochs', { default: String(DEMO_STEPS) });
  option(cmd, '--lr <x>', 'learning rate of the prompt learners', {
    defaultText: `${DEMO_LR}; adapters and LoRA 3e-3, full fine-tuning 3e-4`,
  });
  flag(cmd, 'batchSize', { default: 16, help: 'samples per step' });
  option(cmd, '--depth <n>', 'prompt depth', { default: '1' });
  option(cmd, '--num-context <n>', 'prompt tokens per layer', { default: '4' });
  const target = DOMAIN_SPECS.ultrasound.counts;
  option(cmd, '--train <n>', 'target-domain training images', { default: String(target.train) });
  option(cmd, '--val <n>', 'target-domain validation images', { default: String(target.val) });
  option(cmd, '--test <n>', 'target-domain test images', { default: String(target.test) });
  option(cmd, '--source-test <n>', 'source-domain test images', { default: String(DOMAIN_SPECS.natural.counts.test) });
  flag(cmd, 'seed', { default: 0 });
  flag(cmd, 'quirks', {
    default: 'fixed',
    help: "fixed (every learner gets the upsampler, as in the paper; the demo's default, every other command defaults to reference) | reference (the original code: CoOp/CoCoOp bypass it)",
  });
  flag(cmd, 'threads', { default: 1 });
  flag(cmd, 'quiet', { help: 'only the table, the summary and checkpoint paths, and what to run next' });
  flag(cmd, 'json', { help: 'print demo-summary.json before the report path' });
  examples(cmd, [
    'tunevlseg demo',
    'tunevlseg demo --learners coop,maple --steps 100 --run-dir runs/quick',
    'tunevlseg demo --run-dir runs/quick --overwrite --quirks reference',
  ]);
  return cmd.action(async (f: DemoFlags) => {
    const print = deps.print ?? ((l: string) => console.log(l));
    let table = false;
    // Ctrl-C: the current learner stops after its optimizer step; a second one quits at once.
    const controller = new AbortController();
    const options: DemoOptions = {
      ...demoOptionsOf(f),
      signal: controller.signal,
      log: (l) => {
        if (l.startsWith('| ')) table = true;
        if (!f.quiet || table || l.startsWith('summary:') || l.startsWith('run folder:') || l.startsWith('checkpoints:')) print(l);
      },
    };
    const onSigint = (): void => {
      if (controller.signal.aborted) process.exit(130);
      process.stderr.write('\ninterrupt: stopping the demo after the current step (Ctrl-C again to quit now)\n');
      controller.abort();
    };
    process.on('SIGINT', onSigint);
    let summary: DemoSummary;
    try {
      const { runDemo } = await import('../demo/run.js');
      summary = await runDemo(options);
    } catch (e) {
      if (controller.signal.aborted) {
        process.stderr.write(`demo interrupted: ${(e as Error).message}\n`);
        process.exitCode = 130;
        return;
      }
      throw e;
    } finally {
      process.off('SIGINT', onSigint);
    }
    if (f.json) print(JSON.stringify(summary));
    // The report of the demo's own runs (Table 3 in miniature, figures, HTML), then what to run next.
    const { nextSteps, writeDemoReport } = await import('../demo/report.js');
    print(`report: ${await writeDemoReport(summary)}`);
    for (const l of nextSteps(summary)) print(l);
  });
}
