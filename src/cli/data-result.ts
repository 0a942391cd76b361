// What `data convert` and `data import` print when they are done: files left out, notes, the
// counts per split, groups, and the check of what was written (exit 1 when it failed).
import { type BuildResult, formatCheckReport } from '../data/index.js';

/** Prints a converted or imported dataset's result and sets the exit code from its check. */
export function printResult(r: BuildResult): void {
  if (r.skipped.length > 0) {
    console.log(`Left out ${r.skipped.length} raw file(s):`);
    for (const s of r.skipped.slice(0, 20)) console.log(`  - ${s}`);
    if (r.skipped.length > 20) console.log(`  ... and ${r.skipped.length - 20} more`);
  }
  for (const n of r.notes) console.log(`note: ${n}`);
  const c = r.counts;
  console.log(
    `Wrote ${r.out}: train ${c.train.images} images / ${c.train.entries} entries, val ${c.val.images} / ${c.val.entries}, test ${c.test.images} / ${c.test.entries}`,
  );
  if (r.groups !== null)
    console.log(`Groups per split (kept whole without --anns): train ${r.groups.train}, val ${r.groups.val}, test ${r.groups.test}`);
  console.log('');
  console.log(formatCheckReport(r.check));
  if (!r.check.ok) process.exitCode = 1;
}
