// Issue 22, commands printed for pasting: a dataset folder named `kv; touch PWNED` made the sweep's
// "join from elsewhere" line run `touch PWNED` when pasted. Every printed command is now quoted
// by one function (src/util/shell-quote.ts); these tests paste what is printed into a real shell.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shellCommand, shellQuote } from '../../src/util/shell-quote.js';
import { generateSyntheticDataset } from '../../src/data/synthetic.js';
import { downloadHint } from '../../src/hub/index.js';
import { cli, tinySweepArgs, tinySweepSetup } from './sweep-helpers.js';

/** Runs `line` in /bin/sh with `tunevlseg` a function that prints its arguments; returns them. */
function paste(line: string, cwd: string): string[] {
  const r = spawnSync('/bin/sh', ['-c', `tunevlseg() { for a in "$@"; do printf '%s\\0' "$a"; done; }\n${line}`], {
    cwd,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\0').slice(0, -1);
}

const NASTY = [
  'kv; touch PWNED',
  '$(touch PWNED)',
  '`touch PWNED`',
  "it's",
  '"quoted"',
  'a b\tc',
  'line\nbreak',
  '*',
  '~',
  '!x',
  '-rf',
  '',
  'ünï çødé',
  'a\\b',
  '&& touch PWNED',
  '|touch PWNED',
  "'; touch PWNED; '",
];

test('shellQuote: every argument comes back from /bin/sh exactly as given, and nothing runs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tvs-hostile-quote-'));
  try {
    assert.deepEqual(paste(`tunevlseg ${NASTY.map(shellQuote).join(' ')}`, dir), NASTY);
    assert.deepEqual(paste(shellCommand(['tunevlseg', 'train', '--resume', '/runs/kv; touch PWNED']), dir), [
      'train',
      '--resume',
      '/runs/kv; touch PWNED',
    ]);
    assert.deepEqual(paste(downloadHint('org/model', "v1'; touch PWNED"), dir), [
      'download',
      'org/model',
      '--revision',
      "v1'; touch PWNED",
    ]);
    assert.equal(shellQuote('plain/path-1.2_x'), 'plain/path-1.2_x', 'safe arguments stay readable');
    assert.deepEqual(readdirSync(dir), [], 'no PWNED file');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sweep on a dataset folder named `kv; touch PWNED`: the printed join command, pasted, joins that study and runs nothing else', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tvs-hostile-quote-'));
  try {
    const { config } = await tinySweepSetup(dir);
    const data = join(dir, 'kv; touch PWNED');
    await generateSyntheticDataset('ultrasound', data, { size: 64, counts: { train: 8, val: 4, test: 4 }, seed: 1 });
    const storage = `sqlite:${join(dir, "my studies's.db")}`;
    const r = cli(tinySweepArgs({ data, storage, config, runsDir: join(dir, 'runs'), trials: 1 }, '--max-depth', '2'), dir);
    assert.equal(r.status, 0, r.stderr);
    const line = /join from elsewhere with\n {2}(.*)\n/.exec(r.stdout)?.[1];
    assert.ok(line, r.stdout);
    const pasteDir = join(dir, 'paste');
    mkdirSync(pasteDir);
    const args = paste(line, pasteDir);
    assert.deepEqual(args.slice(0, 4), ['worker', '--storage', storage, '--study'], 'the storage path with its space and quote, as given');
    assert.match(args[4]!, /^[^/]*clipseg-tiny__vpt__kv; touch PWNED$/, 'the study name, whole');
    assert.equal(args.length, 5);
    assert.deepEqual(readdirSync(pasteDir), [], 'pasting ran no other command');
    assert.equal(existsSync(join(dir, 'PWNED')), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
