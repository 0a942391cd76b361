// The demo's own runs as a bench folder, then the report (tables, figures, HTML) of it:
// the paper's deliverable in miniature, written next to demo-summary.json.
import { cpSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeReport } from '../report/index.js';
import { DEFAULT_LEARNER } from '../learners/registry.js';
import { learnerRunDir, type DemoSummary } from './run.js';
import { shellCommand, shellQuote } from '../util/shell-quote.js';
import { benchFiles, runFiles } from '../train/run-folder.js';

export const DEMO_MODEL = 'tiny-clipseg';
export const DEMO_DATASET = 'ultrasound';

/**
 * What to run next (the demo's last lines): the best learner exported and served, then the same
 * on one's own data. The train line works offline too: it says where its default base model
 * comes from and how to give a local one instead.
 */
export function nextSteps(s: DemoSummary): string[] {
  const ranked = (Object.entries(s.learners) as [string, { test_dice: number }][]).sort((a, b) => b[1].test_dice - a[1].test_dice);
  const best = ranked[0]?.[0] ?? DEFAULT_LEARNER;
  const exportDir = `${best}-export`;
  return [
    `next, in the browser: ${shellCommand(['tunevlseg', 'export', '--tuned', learnerRunDir(s.run_dir, best), '--prompt', 'tumor', '--out', exportDir])}, ` +
      `then ${shellCommand(['tunevlseg', 'serve', exportDir])}`,
    'next, on your own data: tunevlseg data import --images <dir> --masks <dir> --class <name> --out my-data, then tunevlseg train --dataset my-data ' +
      `--model learner=${best} --model quirks=${String(s.settings.quirks ?? 'fixed')} (downloads its base model CIDAS/clipseg-rd64-refined once; offline, add ` +
      `--model <a folder with config.json + model.safetensors>, e.g. --model ${shellQuote(s.model_dir)} for the demo's tiny model)`,
  ];
}

/** Lays the learners' run folders out as bench cells (plus zero-shot masks and embeddings) and writes the report; returns report.html. */
export async function writeDemoReport(s: DemoSummary): Promise<string> {
  const bench = join(s.run_dir, 'bench');
  const learners = Object.keys(s.learners).filter((l) => existsSync(runFiles(learnerRunDir(s.run_dir, l)).summary));
  if (learners.length === 0) throw new Error(`demo report: no finished learner runs under ${learnerRunDir(s.run_dir, '')}`);
  const files = benchFiles(bench);
  mkdirSync(files.cells, { recursive: true });
  for (const l of learners) cpSync(learnerRunDir(s.run_dir, l), files.cell(`${DEMO_MODEL}__${l}__${DEMO_DATASET}`), { recursive: true });
  // The frozen model's masks (the gallery's zero-shot column) and both domains' CLIP embeddings (Fig. 4).
  const zs = join(s.run_dir, 'zero-shot', 'predictions');
  if (existsSync(zs)) {
    const dir = runFiles(join(bench, 'zero-shot', `${DEMO_MODEL}__${DEMO_DATASET}`));
    cpSync(zs, dir.predictions, { recursive: true });
    writeFileSync(dir.config, `${JSON.stringify({ data: { dir: join(s.run_dir, 'data', DEMO_DATASET), testSplit: 'test' } }, null, 2)}\n`);
  }
  if (existsSync(join(s.run_dir, 'embeddings'))) cpSync(join(s.run_dir, 'embeddings'), files.embeddings, { recursive: true });
  writeFileSync(
    files.grid,
    JSON.stringify(
      {
        name: 'tunevlseg demo',
        models: [DEMO_MODEL],
        learners,
        datasets: [DEMO_DATASET],
        labels: {
          models: { [DEMO_MODEL]: 'Tiny CLIPSeg' },
          datasets: { [DEMO_DATASET]: 'Synthetic US (target)', natural: 'Synthetic shapes (source)' },
        },
        demo: {
          zero_shot_dice: s.zero_shot_dice,
          trivial_dice: s.trivial_dice,
          source_dice: s.source_dice,
          text_blind_dice: s.text_blind_dice,
        },
        // Table 3's untuned rows, as the terminal table shows them.
        baselines: [
          { label: 'Trivial: whole field of view', values: { [DEMO_DATASET]: s.trivial_dice } },
          { label: 'Zero-shot "tumor"', values: { [DEMO_DATASET]: s.zero_shot_dice } },
        ],
      },
      null,
      2,
    ) + '\n',
  );
  const r = await writeReport(bench, join(s.run_dir, 'report'), { k: 2 });
  return r.html ?? r.markdown!;
}
