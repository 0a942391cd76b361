// The demo's own runs as a bench folder, then the report (tables, figures, HTML) of it:
// the paper's deliverable in miniature, written next to demo-summary.json.
import { cpSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeReport } from '../report/index.js';
import type { DemoSummary } from './run.js';
import { benchFiles, runFiles } from '../train/run-folder.js';

export const DEMO_MODEL = 'tiny-clipseg';
export const DEMO_DATASET = 'ultrasound';

/** Lays the learners' run folders out as bench cells and writes the report; returns report.html. */
export async function writeDemoReport(s: DemoSummary): Promise<string> {
  const bench = join(s.run_dir, 'bench');
  const learners = Object.keys(s.learners).filter((l) => existsSync(runFiles(join(s.run_dir, 'tuning', l)).summary));
  if (learners.length === 0) throw new Error(`demo report: no finished learner runs under ${join(s.run_dir, 'tuning')}`);
  const files = benchFiles(bench);
  mkdirSync(files.cells, { recursive: true });
  for (const l of learners) cpSync(join(s.run_dir, 'tuning', l), files.cell(`${DEMO_MODEL}__${l}__${DEMO_DATASET}`), { recursive: true });
  writeFileSync(files.grid, JSON.stringify({
    name: 'tunevlseg demo', models: [DEMO_MODEL], learners, datasets: [DEMO_DATASET],
    labels: { models: { [DEMO_MODEL]: 'Tiny CLIPSeg' }, datasets: { [DEMO_DATASET]: 'Synthetic US' } },
    demo: { zero_shot_dice: s.zero_shot_dice, trivial_dice: s.trivial_dice, source_dice: s.source_dice, text_blind_dice: s.text_blind_dice },
  }, null, 2) + '\n');
  const r = await writeReport(bench, join(s.run_dir, 'report'), { noGallery: true });
  return r.html ?? r.markdown!;
}
