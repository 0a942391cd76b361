// The evaluation protocol of the report's tables (issue 11): summary.json's
// `test.protocols.<name>` is read, `--protocol` switches it, every caption (Markdown, LaTeX,
// HTML) names it, and runs without protocols fall back to model-resolution with a visible note.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { EVAL_PROTOCOLS, loadBench, parseProtocol, table3, toHtmlTable, toLatex, toMarkdown } from '../src/report/index.js';
import { type SyntheticBench, makeSyntheticBench, syntheticProtocolDice } from './synthetic-bench.js';
import { repoRoot } from './helpers.js';

let tmp = '';
let full: SyntheticBench;
let mixed: SyntheticBench;
let legacy: SyntheticBench;

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'report-protocol-'));
  full = await makeSyntheticBench(path.join(tmp, 'full'), { protocols: true });
  mixed = await makeSyntheticBench(path.join(tmp, 'mixed'), { protocols: 'mixed' });
  legacy = await makeSyntheticBench(path.join(tmp, 'legacy'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

const MAPLE_KVASIR = 'clipseg__maple__kvasir';

test('each protocol shows its own scores, and the caption names it', () => {
  const d = full.testDice[MAPLE_KVASIR]![0]!;
  for (const p of EVAL_PROTOCOLS) {
    const b = loadBench(full.dir, { protocol: p });
    assert.deepEqual(b.protocol, { requested: p, fallback: [] });
    const t = table3(b);
    const maple = t.rows.find((r) => r.labels[1] === 'MaPLe')!;
    assert.ok(Math.abs(maple.values[0]!.mean - syntheticProtocolDice(d)[p] * 100) < 1e-9, `${p}: ${maple.values[0]!.mean}`);
    assert.match(t.caption, new RegExp(`Protocol ${p}:`));
    assert.ok(toMarkdown(t).includes(`Protocol ${p}:`));
    assert.ok(toLatex(t).includes(`\\caption{`) && toLatex(t).includes(p));
    assert.ok(toHtmlTable(t).includes(`<caption><b>Table 3.</b>`) && toHtmlTable(t).includes(`Protocol ${p}:`));
  }
  // The protocols differ, so switching really changes the numbers.
  const a = table3(loadBench(full.dir, { protocol: 'original-size' })).rows.find((r) => r.labels[1] === 'MaPLe')!.values[0]!.mean;
  const b = table3(loadBench(full.dir, { protocol: 'model-resolution' })).rows.find((r) => r.labels[1] === 'MaPLe')!.values[0]!.mean;
  assert.ok(Math.abs(a - b) > 1);
});

test('the default protocol is original-size', () => {
  assert.equal(loadBench(full.dir).protocol.requested, 'original-size');
});

test('runs without protocols fall back to model-resolution, said in the caption', () => {
  const b = loadBench(legacy.dir);
  assert.equal(b.protocol.fallback.length, b.cells.filter((c) => c.status === 'ok').length);
  const t = table3(b);
  assert.match(t.caption, /Protocol model-resolution.*not the requested original-size.*made before protocols existed/);
  const maple = t.rows.find((r) => r.labels[1] === 'MaPLe')!;
  assert.ok(Math.abs(maple.values[0]!.mean - legacy.testDice[MAPLE_KVASIR]![0]! * 100) < 1e-9);
});

test('a bench mixing old and new runs names the fallback cells in a note', () => {
  const b = loadBench(mixed.dir, { protocol: 'original-size' });
  assert.deepEqual(b.protocol.fallback.filter((c) => c.split('__').length === 3).sort(), [
    'clipseg__coop__busi',
    'clipseg__coop__camus',
    'clipseg__coop__kvasir',
  ]);
  const t = table3(b);
  assert.match(t.caption, /Protocol original-size:/);
  const note = t.notes.find((n) => n.includes('made before protocols existed'));
  assert.ok(note && note.includes('clipseg__coop__kvasir') && !note.includes('clipseg__maple__kvasir'), String(note));
  const coop = t.rows.find((r) => r.labels[0] === 'CLIPSeg' && r.labels[1] === 'CoOp')!;
  assert.ok(
    Math.abs(coop.values[0]!.mean - mixed.testDice['clipseg__coop__kvasir']![0]! * 100) < 1e-9,
    'CoOp shows its model-resolution score',
  );
  assert.ok(toMarkdown(t).includes(note!));
});

test('protocol names are checked', () => {
  assert.equal(parseProtocol('original-size'), 'original-size');
  assert.throws(
    () => parseProtocol('original'),
    /unknown evaluation protocol "original".*model-resolution-reference, original-size, model-resolution/,
  );
});

test('tunevlseg report --protocol switches the tables', () => {
  const cli = path.join(repoRoot(), 'bin', 'tunevlseg.js');
  const run = (args: string[]) =>
    spawnSync(process.execPath, [cli, 'report', full.dir, '--format', 'md,csv', ...args], { encoding: 'utf8', timeout: 60_000 });
  const a = run(['--out', path.join(tmp, 'r-ref'), '--protocol', 'model-resolution-reference']);
  assert.equal(a.status, 0, a.stderr);
  assert.match(readFileSync(path.join(tmp, 'r-ref', 'report.md'), 'utf8'), /Protocol model-resolution-reference:/);
  const d = run(['--out', path.join(tmp, 'r-def')]);
  assert.equal(d.status, 0, d.stderr);
  assert.match(readFileSync(path.join(tmp, 'r-def', 'report.md'), 'utf8'), /Protocol original-size:/);
  const bad = run(['--out', path.join(tmp, 'r-bad'), '--protocol', 'nope']);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /nope/);
});
