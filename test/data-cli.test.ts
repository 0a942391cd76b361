// `tunevlseg data check`: exit status and report on a real and a broken dataset.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, cpSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, sharedDir } from './helpers.js';

const bin = join(repoRoot(), 'bin', 'tunevlseg.js');
const kvasir = join(sharedDir(), 'datasets', 'kvasir-sample');

test('data check passes kvasir-sample and fails a folder with an escaping path and a missing image', () => {
  const ok = spawnSync(process.execPath, [bin, 'data', 'check', kvasir], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /Result: OK/);
  const dir = mkdtempSync(join(tmpdir(), 'tvs-data-cli-'));
  try {
    cpSync(join(kvasir, 'anns'), join(dir, 'anns'), { recursive: true });
    cpSync(join(kvasir, 'images'), join(dir, 'images'), { recursive: true });
    cpSync(join(kvasir, 'masks'), join(dir, 'masks'), { recursive: true });
    const train = JSON.parse(readFileSync(join(dir, 'anns', 'train.json'), 'utf8')) as { img_name: string }[];
    train[0]!.img_name = '../../etc/passwd';
    train[1]!.img_name = 'not-there.jpg';
    writeFileSync(join(dir, 'anns', 'train.json'), JSON.stringify(train));
    const bad = spawnSync(process.execPath, [bin, 'data', 'check', dir, '--json'], { encoding: 'utf8' });
    assert.equal(bad.status, 1);
    const report = JSON.parse(bad.stdout) as { ok: boolean; errors: number; problems: { code: string }[] };
    assert.equal(report.ok, false);
    const codes = report.problems.map((p) => p.code);
    assert.ok(
      codes.some((c) => /escape|unsafe/.test(c)),
      codes.join(','),
    );
    assert.ok(
      codes.some((c) => /missing/.test(c)),
      codes.join(','),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
