// `tunevlseg report <bench-dir>`: the paper's tables, figures and an HTML report of a bench folder.
import path from 'node:path';
import type { Command } from 'commander';
import { examples, oneOf, option } from './flags.js';
import { formatProblems } from '../report/load.js';
import { REPORT_FORMATS, type ReportFormat, writeReport } from '../report/html.js';
import { DEFAULT_REPORT_PROTOCOL, EVAL_PROTOCOLS, type EvalProtocol } from '../report/protocol.js';

interface ReportCliOptions {
  out?: string;
  withPaperE2e?: boolean;
  format?: string[];
  digits?: number;
  metric?: 'dice' | 'iou';
  protocol?: EvalProtocol;
  galleryK?: number;
  thumbWidth?: number;
  gallery?: boolean;
  tsne?: boolean;
  tsneMaxPoints?: number;
  tsnePerplexity?: number;
  tsneSeed?: number;
  strict?: boolean;
}

const intArg =
  (name: string, min: number) =>
  (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name}: expected an integer >= ${min}, got ${JSON.stringify(v)}`);
    return n;
  };

const numArg =
  (name: string) =>
  (v: string): number => {
    const n = Number(v);
    if (!(n > 0)) throw new Error(`--${name}: expected a positive number, got ${JSON.stringify(v)}`);
    return n;
  };

const formatsArg = (v: string, prev: string[] | undefined): string[] => {
  const out = [...(prev ?? [])];
  for (const f of v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    if (!(REPORT_FORMATS as readonly string[]).includes(f))
      throw new Error(`--format: unknown format "${f}" (expected ${REPORT_FORMATS.join(', ')})`);
    out.push(f);
  }
  return out;
};

/** Adds `report <bench-dir> [--out dir] [--with-paper-e2e] ...`; prints the report's path as its last line. */
export function registerReportCommand(program: Command): Command {
  const cmd = program
    .command('report')
    .description('tables (Markdown, CSV, LaTeX), figures and a self-contained HTML report of a bench folder (docs/report.md)')
    .argument('<bench-dir>', 'bench folder: bench.json, cells/<model>__<learner>__<dataset>[__<ablation>]/, embeddings/');
  option(cmd, '-o, --out <dir>', 'output folder', { defaultText: '<bench-dir>/report' });
  option(cmd, '--with-paper-e2e', "add the paper's end-to-end fine-tuning rows to Table 3");
  option(cmd, '--format <list>', `formats to write, comma-separated: ${REPORT_FORMATS.join(', ')}`, {
    defaultText: 'all',
    parse: formatsArg as (v: string, p: unknown) => unknown,
  });
  option(cmd, '--digits <n>', 'decimals in the tables', { default: 2, parse: intArg('digits', 0) });
  option(cmd, '--metric <metric>', 'score in the tables: dice | iou', { default: 'dice', parse: oneOf(['dice', 'iou']) });
  option(
    cmd,
    '--protocol <name>',
    `evaluation protocol of the tables' test scores (summary.json test.protocols.<name>; runs without them show model-resolution, noted): ${EVAL_PROTOCOLS.join(' | ')}`,
    { default: DEFAULT_REPORT_PROTOCOL, parse: oneOf(EVAL_PROTOCOLS) },
  );
  option(cmd, '--gallery-k <n>', 'gallery images per group (best, median, worst by mean Dice over the methods)', {
    default: 1,
    parse: intArg('gallery-k', 1),
  });
  option(cmd, '--thumb-width <px>', 'gallery thumbnail width', { default: 160, parse: intArg('thumb-width', 16) });
  option(cmd, '--no-gallery', 'leave out the prediction galleries');
  option(cmd, '--no-tsne', 'leave out the t-SNE figure (Fig. 4)');
  option(cmd, '--tsne-max-points <n>', 't-SNE points per modality (stratified sample)', {
    default: 1000,
    parse: intArg('tsne-max-points', 2),
  });
  option(cmd, '--tsne-perplexity <p>', 't-SNE perplexity', { default: 30, parse: numArg('tsne-perplexity') });
  option(cmd, '--tsne-seed <n>', 't-SNE seed', { default: 0, parse: intArg('tsne-seed', 0) });
  option(cmd, '--strict', 'fail on any malformed file or unfinished cell instead of listing it');
  examples(cmd, ['tunevlseg report bench', 'tunevlseg report bench --protocol model-resolution --format md,csv --out tables']);
  return cmd.action(async (benchDir: string, o: ReportCliOptions) => {
    const out = o.out ?? path.join(benchDir, 'report');
    const formats = (o.format?.length ? [...new Set(o.format)] : REPORT_FORMATS) as ReportFormat[];
    const paths = await writeReport(benchDir, out, {
      formats,
      withPaperE2E: o.withPaperE2e ?? false,
      digits: o.digits ?? 2,
      metric: o.metric ?? 'dice',
      protocol: o.protocol ?? DEFAULT_REPORT_PROTOCOL,
      k: o.galleryK ?? 1,
      thumbWidth: o.thumbWidth ?? 160,
      noGallery: o.gallery === false,
      ...(o.tsne === false ? { include: ['fig6', 'fig7', 'trials', 'curves'] } : {}),
      tsneMaxPoints: o.tsneMaxPoints ?? 1000,
      tsnePerplexity: o.tsnePerplexity ?? 30,
      tsneSeed: o.tsneSeed ?? 0,
      strict: o.strict ?? false,
    });
    if (paths.missing.length) console.error(`warning: ${paths.missing.length} cell(s) without results: ${paths.missing.join(', ')}`);
    if (paths.problems.length)
      console.error(`warning: ${paths.problems.length} problem(s) in the bench:\n${formatProblems(paths.problems)}`);
    for (const f of [...Object.values(paths.csv), ...Object.values(paths.latex), ...paths.figures]) console.log(f);
    if (paths.markdown && paths.html) console.log(paths.markdown);
    const main = paths.html ?? paths.markdown ?? Object.values(paths.csv)[0] ?? Object.values(paths.latex)[0] ?? paths.outDir;
    console.log(main);
  });
}
