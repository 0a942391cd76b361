// `npm run parity -- <dir>` on the shared fixtures, and on another folder of the same layout
// (renamed, partial, with one tampered case that must fail).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, fixturesDir } from './helpers.js';
import { parseSafetensors, serializeSafetensors } from '../src/torch/safetensors.js';

const cli = join(repoRoot(), 'dist', 'src', 'parity', 'cli.js');

function runParity(dir: string): { status: number | null; lines: Record<string, unknown>[] } {
  const r = spawnSync(process.execPath, [cli, dir], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const lines = r.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { status: r.status, lines };
}

test('every case of ../shared/fixtures passes, one JSON line each plus the summary', () => {
  const { status, lines } = runParity(fixturesDir());
  const last = lines[lines.length - 1]!;
  const cases = lines.slice(0, -1);
  assert.ok((last.cases as number) >= 17, `found ${String(last.cases)} cases`);
  assert.equal(cases.length, last.cases);
  const failed = cases
    .filter((c) => c.pass !== true)
    .map((c) => `${String(c.case)}: ${String(c.error ?? JSON.stringify(c.tensors).slice(0, 300))}`);
  assert.deepEqual(failed, []);
  assert.equal(last.failed, 0);
  assert.equal(status, 0);
  for (const c of cases) {
    assert.equal(typeof c.case, 'string');
    for (const t of Object.values(c.tensors as Record<string, { max_abs: number; max_rel: number }>)) {
      assert.equal(typeof t.max_abs, 'number');
      assert.equal(typeof t.max_rel, 'number');
    }
  }
  const kinds = new Set(cases.map((c) => c.kind));
  for (const k of ['clip-tokenizer', 'clipseg-base', 'cris-base']) assert.ok(kinds.has(k), `no ${k} case ran`);
  assert.ok(
    cases.some((c) => String(c.case).includes('learners/')),
    'no learner case ran',
  );
});

test('a differently named folder of the same layout works, and a tampered case fails', () => {
  const root = mkdtempSync(join(tmpdir(), 'tvs-parity-'));
  try {
    const base = join(root, 'zoo', 'my-clipseg');
    mkdirSync(join(base, 'learners'), { recursive: true });
    for (const f of ['config.json', 'case.json', 'model.safetensors', 'inputs.safetensors', 'outputs.safetensors']) {
      cpSync(join(fixturesDir(), 'clipseg-tiny', f), join(base, f));
    }
    cpSync(join(fixturesDir(), 'clipseg-tiny', 'learners', 'vpt-d1'), join(base, 'learners', 'my-vpt'), { recursive: true });
    cpSync(join(fixturesDir(), 'clipseg-tiny', 'learners', 'maple-d1'), join(base, 'learners', 'broken-maple'), { recursive: true });
    // tamper: shift the expected logits of the maple case
    const p = join(base, 'learners', 'broken-maple', 'outputs.safetensors');
    const f = parseSafetensors(new Uint8Array(readFileSync(p)), p);
    const logits = f.tensors.get('logits')!;
    const vals = new Float32Array(logits.data.slice().buffer);
    vals[0] = vals[0]! + 0.01;
    f.tensors.set('logits', { ...logits, data: new Uint8Array(vals.buffer) });
    writeFileSync(p, serializeSafetensors(f.tensors, f.metadata));

    const { status, lines } = runParity(root);
    const byCase = new Map(lines.slice(0, -1).map((l) => [l.case as string, l]));
    assert.equal(byCase.get('zoo/my-clipseg')?.pass, true);
    assert.equal(byCase.get('zoo/my-clipseg/learners/my-vpt')?.pass, true);
    const broken = byCase.get('zoo/my-clipseg/learners/broken-maple')!;
    assert.equal(broken.pass, false);
    const lt = (broken.tensors as Record<string, { pass: boolean; max_abs: number }>).logits!;
    assert.equal(lt.pass, false);
    assert.ok(Math.abs(lt.max_abs - 0.01) < 1e-4, `max_abs ${lt.max_abs}`);
    assert.deepEqual(lines[lines.length - 1], { cases: 3, failed: 1 });
    assert.equal(status, 1);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a folder with no cases, or a missing folder, is an error exit', () => {
  const empty = mkdtempSync(join(tmpdir(), 'tvs-parity-empty-'));
  try {
    const r = runParity(empty);
    assert.equal(r.status, 1);
    assert.deepEqual(r.lines[r.lines.length - 1], { cases: 0, failed: 0 });
    const m = spawnSync(process.execPath, [cli, join(empty, 'nope')], { encoding: 'utf8' });
    assert.equal(m.status, 1);
    assert.match(m.stderr, /is not a folder/);
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});
