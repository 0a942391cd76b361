// `tunevlseg doctor`: names the libtorch and the BLAS this process actually loaded (read from the
// process's mapped libraries, not libtorch's build string "generic"), and what the locator found.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './helpers.js';

test("doctor --json: the loaded libtorch and BLAS libraries, by path; the locator's paths", () => {
  const r = spawnSync(process.execPath, [path.join(repoRoot(), 'bin', 'tunevlseg.js'), 'doctor', '--json'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const d = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.match(String(d.libtorchLoaded), /libtorch_cpu\.so/);
  assert.ok(existsSync(String(d.libtorchLoaded)), String(d.libtorchLoaded));
  // Which BLAS does the products: a library that is loaded and exists, named by kind
  assert.ok(typeof d.blasLibrary === 'string' && existsSync(d.blasLibrary), String(d.blasLibrary));
  assert.match(String(d.blas), /^(OpenBLAS|MKL|BLIS|FlexiBLAS|reference BLAS \(slow\)) \(/);
  assert.doesNotMatch(String(d.blas), /^generic/);
  assert.ok(Array.isArray(d.pathsTried) && (d.pathsTried as unknown[]).length > 0);
  const brief = spawnSync(process.execPath, [path.join(repoRoot(), 'bin', 'tunevlseg.js'), 'doctor', '--brief'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(brief.status, 0, brief.stderr);
  assert.equal(brief.stdout.trim().split('\n').length, 1);
  assert.ok(brief.stdout.includes(String(d.blasLibrary)), brief.stdout);
});
