// `tunevlseg demo`: the built-in, offline demo (docs/demo.md): a tiny CLIPSeg pretrained on
// synthetic natural shapes is prompt-tuned with every CLIPSeg learner on synthetic ultrasound
// ("tumor", a word it never saw); prints a Table-3-style table and writes demo-summary.json.
// Thin over src/demo/run.ts.
import type { Command } from 'commander';
import { demoAllLearners, demoDefaultLearners, runDemo, type DemoOptions, type DemoSummary } from '../demo/run.js';
import type { LearnerName } from '../learners/types.js';
import { LEARNER_NAMES } from '../learners/registry.js';
import { isLearnerName } from '../learners/registry.js';

interface DemoFlags {
  runDir?: string;
  model?: string;
  learners?: string;
  steps?: string;
  lr?: string;
  batchSize?: string;
  depth?: string;
  numContext?: string;
  train?: string;
  val?: string;
  test?: string;
  sourceTest?: string;
  seed?: string;
  quirks?: string;
  threads?: string;
  json?: boolean;
  quiet?: boolean;
}

function int(flag: string, v: string | undefined, min = 1): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (!Number.isInteger(x) || x < min) throw new Error(`${flag}: expected an integer >= ${min}, got ${JSON.stringify(v)}`);
  return x;
}

function pos(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (!(x > 0) || !Number.isFinite(x)) throw new Error(`${flag}: expected a positive number, got ${JSON.stringify(v)}`);
  return x;
}

function quirksOf(v: string): 'fixed' | 'reference' {
  if (v !== 'fixed' && v !== 'reference') throw new Error(`--quirks: expected fixed or reference, got ${JSON.stringify(v)}`);
  return v;
}

export function parseLearnerList(v: string): LearnerName[] {
  if (v.trim() === 'all') return demoAllLearners();
  const names = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const bad = names.filter((n) => !isLearnerName(n));
  if (bad.length || names.length === 0) throw new Error(`--learners: expected a comma-separated list of ${LEARNER_NAMES.join(', ')}, got ${JSON.stringify(v)}`);
  return names as LearnerName[];
}

export function registerDemoCommand(program: Command, deps: { print?: (line: string) => void } = {}): Command {
  return program
    .command('demo')
    .description('offline demo: prompt-tune every CLIPSeg learner of a tiny shipped model on synthetic ultrasound (a few minutes on a CPU)')
    .option('--run-dir <dir>', 'run folder (default runs/demo-<timestamp>)')
    .option('--model <dir>', 'base model folder (default: the shipped assets/demo)')
    .option('--learners <list>', `comma-separated learners, or all (${demoAllLearners().join(',')}); default the paper's six: ${demoDefaultLearners().join(',')}`)
    .option('--steps <n>', 'optimizer steps per learner, rounded up to whole epochs (default 300)')
    .option('--lr <x>', 'learning rate of the prompt learners (default 1e-2; adapters and LoRA 3e-3, full fine-tuning 3e-4)')
    .option('--batch-size <n>', 'samples per step (default 16)')
    .option('--depth <n>', 'prompt depth (default 1)')
    .option('--num-context <n>', 'prompt tokens per layer (default 4)')
    .option('--train <n>', 'target-domain training images (default 300)')
    .option('--val <n>', 'target-domain validation images (default 50)')
    .option('--test <n>', 'target-domain test images (default 200)')
    .option('--source-test <n>', 'source-domain test images (default 400)')
    .option('--seed <n>', 'seed (default 0)')
    .option('--quirks <mode>', 'fixed (default: every learner gets the upsampler, as in the paper) or reference (the original code: CoOp/CoCoOp bypass it)')
    .option('--threads <n>', 'libtorch threads (default 1)')
    .option('-q, --quiet', 'only the table and the summary path')
    .option('--json', 'print demo-summary.json before the report path (the last line)')
    .action(async (f: DemoFlags) => {
      const print = deps.print ?? ((l: string) => console.log(l));
      const counts = Object.fromEntries(
        ([['train', f.train], ['val', f.val], ['test', f.test]] as const)
          .map(([k, v]) => [k, int(`--${k}`, v)] as const).filter(([, v]) => v !== undefined),
      );
      let table = false;
      // Ctrl-C: the current learner stops after its optimizer step; a second one quits at once.
      const controller = new AbortController();
      const options: DemoOptions = {
        ...(f.runDir ? { runDir: f.runDir } : {}),
        ...(f.model ? { modelDir: f.model } : {}),
        ...(f.learners ? { learners: parseLearnerList(f.learners) } : {}),
        ...(f.steps !== undefined ? { steps: int('--steps', f.steps)! } : {}),
        ...(f.lr !== undefined ? { lr: pos('--lr', f.lr)! } : {}),
        ...(f.batchSize !== undefined ? { batchSize: int('--batch-size', f.batchSize)! } : {}),
        ...(f.depth !== undefined ? { depth: int('--depth', f.depth)! } : {}),
        ...(f.numContext !== undefined ? { numContext: int('--num-context', f.numContext)! } : {}),
        ...(f.sourceTest !== undefined ? { sourceTestImages: int('--source-test', f.sourceTest)! } : {}),
        ...(f.seed !== undefined ? { seed: int('--seed', f.seed, 0)! } : {}),
        ...(f.quirks !== undefined ? { quirks: quirksOf(f.quirks) } : {}),
        ...(f.threads !== undefined ? { threads: int('--threads', f.threads)! } : {}),
        targetCounts: counts,
        signal: controller.signal,
        log: (l) => {
          if (l.startsWith('| ')) table = true;
          if (!f.quiet || table || l.startsWith('summary:') || l.startsWith('run folder:')) print(l);
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
      // The report of the demo's own runs (Table 3 in miniature, figures, HTML); its path last.
      const { NEXT_STEPS, writeDemoReport } = await import('../demo/report.js');
      print(`report: ${await writeDemoReport(summary)}`);
      print(NEXT_STEPS);
    });
}
