// `tunevlseg study show`: a sweep study's trials table, best parameters and importances, read from
// its storage (src/experiment); `printStudy` is also how `sweep` ends.
import type { Command } from 'commander';
import type { StudySummary } from '../sweep/index.js';
import { examples, flag } from './flags.js';

/** The study table (or one JSON object) on stdout. */
export function printStudy(s: StudySummary, json: boolean): void {
  if (json) {
    console.log(
      JSON.stringify({
        study: s.study.name,
        direction: s.study.direction,
        counts: s.counts,
        best: s.best,
        importances: s.importances,
        trials: s.trials.map((t) => ({ number: t.number, state: t.state, value: t.value, params: t.params, attrs: t.attrs })),
      }),
    );
    return;
  }
  console.log(`study ${s.study.name} (${s.study.direction}), ${JSON.stringify(s.counts)}`);
  const names = Object.keys(s.trials[0]?.params ?? {});
  console.log(['#', 'state', 'value', ...names].join('\t'));
  for (const t of s.trials) {
    console.log(
      [
        t.number,
        t.state,
        t.value === null || t.value === undefined ? '-' : t.value.toPrecision(5),
        ...names.map((n) => JSON.stringify(t.params?.[n] ?? null)),
      ].join('\t'),
    );
  }
  // The whole reason, continuation lines indented (a first line alone rarely says what to fix),
  // once per distinct reason: twenty trials failing alike make one paragraph, not twenty.
  const reasons = new Map<string, number[]>();
  for (const t of s.trials) if (t.state === 'failed' && t.error) reasons.set(t.error, [...(reasons.get(t.error) ?? []), t.number]);
  for (const [error, nums] of reasons)
    console.log(`trial${nums.length > 1 ? 's' : ''} ${nums.join(', ')} failed: ${error.replace(/\n/g, '\n  ')}`);
  if (s.best) console.log(`best: trial ${s.best.number}, value ${String(s.best.value)}, ${JSON.stringify(s.best.params)}`);
  const imp = [...s.importances].sort((a, b) => b.importance - a.importance);
  if (imp.length) console.log(`importance: ${imp.map((i) => `${i.param} ${i.importance.toFixed(2)}`).join(', ')}`);
}

export function registerStudyCommand(program: Command): void {
  const study = program.command('study').description('inspect sweep studies');
  examples(study, ['tunevlseg study show clipseg__maple__kvasir']);
  const show = study.command('show <name>').description('trials table, best parameters and the importance of each parameter');
  flag(show, 'storage', { default: 'sqlite:runs/studies.db', help: 'the study storage' });
  flag(show, 'json', { help: 'one JSON object' });
  examples(show, [
    'tunevlseg study show clipseg__maple__kvasir',
    'tunevlseg study show clipseg__vpt__kvasir --storage postgres://user@db/tvs --json',
  ]);
  show.action(async (name: string, o: { storage: string; json?: boolean }) => {
    const { readStudy } = await import('../experiment/index.js');
    printStudy(await readStudy(o.storage, name), o.json === true);
  });
}
