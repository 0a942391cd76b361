// `tunevlseg data check` under a careless user: a folder that is not there, counts that must
// add up, an empty train split. Each case: the exit code, the folder or split named, and the
// dataset unchanged.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hashTree, makeDataset, tvs } from './cli-harness.js';

let tmp: string;
let ds: string;

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'tvs-hostile-check-'));
  ds = await makeDataset(path.join(tmp, 'ds'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Sums the `ERROR code (n)` and `warning code (n)` group lines of a report. */
function groupSums(out: string): { errors: number; warnings: number } {
  let errors = 0,
    warnings = 0;
  for (const m of out.matchAll(/^ {2}(ERROR {2}|warning) (\w+) \((\d+)\)$/gm)) {
    if (m[1]!.startsWith('ERROR')) errors += Number(m[3]);
    else warnings += Number(m[3]);
  }
  return { errors, warnings };
}

test('data check <missing folder>: one line that says so, exit 1', () => {
  const missing = path.join(tmp, 'no-such-dataset');
  const r = tvs(['data', 'check', missing]);
  assert.equal(r.status, 1, r.all);
  assert.equal(r.stdout.trim().split('\n').length, 1, r.stdout);
  assert.match(r.stdout, new RegExp(`${missing.replaceAll('/', '\\/')}: no such folder`));
});

test('data check: the error/warning counts of the header match the listed groups', () => {
  const d = path.join(tmp, 'mixed');
  cpSync(ds, d, { recursive: true });
  rmSync(path.join(d, 'anns', 'val.json')); // an error
  rmSync(path.join(d, 'anns', 'test.json')); // a warning, same code
  const before = hashTree(d);
  const r = tvs(['data', 'check', d]);
  assert.equal(r.status, 1, r.all);
  const header = /Problems: (\d+) error\(s\), (\d+) warning\(s\)/.exec(r.stdout);
  assert.ok(header, r.stdout);
  assert.deepEqual(groupSums(r.stdout), { errors: Number(header[1]), warnings: Number(header[2]) });
  assert.match(r.stdout, /ERROR +missing_split \(1\)/);
  assert.match(r.stdout, /warning missing_split \(1\)/);
  assert.deepEqual(hashTree(d), before);
});

test('data check: an empty train split is an error', () => {
  const d = path.join(tmp, 'empty-train');
  cpSync(ds, d, { recursive: true });
  writeFileSync(path.join(d, 'anns', 'train.json'), '[]');
  const r = tvs(['data', 'check', d]);
  assert.equal(r.status, 1, r.all);
  assert.match(r.stdout, /ERROR +empty_split \(1\)/);
  assert.match(r.stdout, /anns\/train\.json/);
});
