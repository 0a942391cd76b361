// The demo's own runs as a bench folder, then the report (tables, figures, HTML) of it:
// the paper's deliverable in miniature, written next to demo-summary.json.
import { cpSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeReport } from '../report/index.js';
import type { DemoSummary } from './run.js';

export const DEMO_MODEL = 'tiny-clipseg';
export const DEMO_DATASET = 'ultrasound';

/** What to run next on one's own data (the demo's last line). */
export const NEXT_STEPS = 'next, on your own data: tunevlseg data import --images <dir> --masks <dir> --class <name> --out my-data, then tunevlseg train --data-dir my-data --model learner=maple';

/** Lays the learners' run folders out as bench cells (plus zero-shot masks and embeddings) and writes the report; returns report.html. */
export async function writeDemoReport(s: DemoSummary): Promise<string> {
  const bench = join(s.run_dir, 'bench');
  const learners = Object.keys(s.learners).filter((l) => existsSync(join(s.run_dir, 'tuning', l, 'summary.json')));
  if (learners.length === 0) throw new Error(`demo report: no finished learner runs under ${join(s.run_dir, 'tuning')}`);
  mkdirSync(join(bench, 'cells'), { recursive: true });
  for (const l of learners) cpSync(join(s.run_dir, 'tuning', l), join(bench, 'cells', `${DEMO_MODEL}__${l}__${DEMO_DATASET}`), { recursive: true });
  // The frozen model's masks (the gallery's zero-shot column) and both domains' CLIP embeddings (Fig. 4).
  const zs = join(s.run_dir, 'zero-shot', 'predictions');
  if (existsSync(zs)) {
    const dir = join(bench, 'zero-shot', `${DEMO_MODEL}__${DEMO_DATASET}`);
    cpSync(zs, join(dir, 'predictions'), { recursive: true });
    writeFileSync(join(dir, 'config.json'), `${JSON.stringify({ data: { dir: join(s.run_dir, 'data', DEMO_DATASET), testSplit: 'test' } }, null, 2)}\n`);
  }
  if (existsSync(join(s.run_dir, 'embeddings'))) cpSync(join(s.run_dir, 'embeddings'), join(bench, 'embeddings'), { recursive: true });
  writeFileSync(join(bench, 'bench.json'), JSON.stringify({
    name: 'tunevlseg demo', models: [DEMO_MODEL], learners, datasets: [DEMO_DATASET],
    labels: { models: { [DEMO_MODEL]: 'Tiny CLIPSeg' }, datasets: { [DEMO_DATASET]: 'Synthetic US (target)', natural: 'Synthetic shapes (source)' } },
    demo: { zero_shot_dice: s.zero_shot_dice, trivial_dice: s.trivial_dice, source_dice: s.source_dice, text_blind_dice: s.text_blind_dice },
  }, null, 2) + '\n');
  const r = await writeReport(bench, join(s.run_dir, 'report'), { k: 2 });
  return r.html ?? r.markdown!;
}
