// Issue 15, secrets: a sweep given `--storage postgres://user:PASSWORD@...` (and run with an
// HF_TOKEN in its environment) must not show the password or the token anywhere: console
// output, error messages, run folders, logs, study records. The test makes its own role with a
// random password on the test PostgreSQL ($TUNEVLSEG_TEST_PG, as test/sweep-storage.test.ts),
// runs a two-worker sweep through it, and searches every byte it produced.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { allFiles, cli, tinyModel, tinySweepSetup, treeHashes } from './sweep-helpers.js';

const skip = !process.env['TUNEVLSEG_TEST_PG'] && process.env['TUNEVLSEG_SKIP_PG'] === '1' ? 'TUNEVLSEG_SKIP_PG=1' : false;

test('no password or token in any output, file or study record of a PostgreSQL sweep', { skip }, async () => {
  const admin = process.env['TUNEVLSEG_TEST_PG'];
  if (!admin) throw new Error('TUNEVLSEG_TEST_PG is not set (scripts/start-test-postgres.sh prints one), or set TUNEVLSEG_SKIP_PG=1');
  const tag = `tvs_secret_${process.pid}_${randomBytes(3).toString('hex')}`;
  const password = `pw${randomBytes(12).toString('hex')}`;
  const hfToken = `hf_${randomBytes(16).toString('hex')}`;
  const db = new pg.Client({ connectionString: admin });
  await db.connect();
  const dir = mkdtempSync(join(tmpdir(), 'tvs-hostile-secrets-'));
  try {
    await db.query(`CREATE ROLE ${tag} LOGIN PASSWORD '${password}'`);
    await db.query(`CREATE DATABASE ${tag} OWNER ${tag}`);
    const u = new URL(admin);
    u.username = tag;
    u.password = password;
    u.pathname = `/${tag}`;
    const url = u.toString();
    const env = { HF_TOKEN: hfToken };

    const { data, config } = await tinySweepSetup(dir);
    const dataBefore = treeHashes(data);
    const outputs: string[] = [];
    const run = (args: string[]): ReturnType<typeof cli> => {
      const r = cli(args, dir, env);
      outputs.push(r.stdout, r.stderr);
      return r;
    };
    const sweep = run([
      'sweep',
      '--dataset',
      data,
      '--model',
      tinyModel(),
      '--learner',
      'vpt',
      '--trials',
      '2',
      '--workers',
      '2',
      '--study',
      'secret-study',
      '--storage',
      url,
      '--max-depth',
      '2',
      '-c',
      config,
      '--runs-dir',
      join(dir, 'runs'),
    ]);
    assert.equal(sweep.status, 0, sweep.stderr.slice(-3000));
    // The hint shows how to join without the password, and where the password goes instead.
    const bare = `postgres://${tag}@${u.host}/${tag}`;
    assert.ok(sweep.stdout.includes(`PGPASSWORD=... tunevlseg worker --storage ${bare} --study secret-study`), sweep.stdout);
    assert.match(sweep.stdout, /--storage holds a password.*PGPASSWORD or in ~\/\.pgpass/);
    assert.match(sweep.stdout, /best: trial \d+/);

    // Reading the study back (and joining it) with the password in the environment works.
    const show = run(['study', 'show', 'secret-study', '--storage', bare, '--json']);
    assert.equal(cli(['study', 'show', 'secret-study', '--storage', bare, '--json'], dir, { ...env, PGPASSWORD: password }).status, 0);
    assert.equal(show.status, 1, 'without the password the server refuses');
    assert.match(show.stderr, /study "secret-study": postgres:\/\/.*: cannot connect to PostgreSQL/);
    const shown = run(['study', 'show', 'secret-study', '--storage', url, '--json']);
    assert.equal(shown.status, 0, shown.stderr);
    assert.equal((JSON.parse(shown.stdout.trim().split('\n').pop()!) as { counts: { complete: number } }).counts.complete, 2);
    // A failing connection names the server, not the password.
    const wrong = new URL(url);
    wrong.port = '1';
    const refused = run(['study', 'show', 'secret-study', '--storage', wrong.toString()]);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /study "secret-study": postgres:\/\/[^ ]*:\*\*\*@127\.0\.0\.1:1\//);

    // The search: every output, every file the sweep wrote, every study and trial row.
    const rows = await new pg.Client({ connectionString: url });
    await rows.connect();
    const records = JSON.stringify([
      (await rows.query('SELECT * FROM tvs_studies')).rows,
      (await rows.query('SELECT * FROM tvs_trials')).rows,
      (await rows.query('SELECT * FROM tvs_intermediate')).rows,
    ]);
    await rows.end();
    assert.ok(records.includes('secret-study') && records.includes('runDir'), 'the study records were read');
    const files = allFiles(dir);
    assert.ok(
      files.some((f) => f.endsWith('summary.json')),
      'the trial run folders were searched',
    );
    for (const secret of [password, hfToken]) {
      for (const [i, o] of outputs.entries()) assert.ok(!o.includes(secret), `output ${i} holds a secret:\n${o}`);
      for (const f of files) assert.ok(!readFileSync(f).includes(secret), `${f} holds a secret`);
      assert.ok(!records.includes(secret), 'a study record holds a secret');
    }
    assert.deepEqual(treeHashes(data), dataBefore, 'the dataset is unchanged');
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await db.query(`DROP DATABASE IF EXISTS ${tag} WITH (FORCE)`).catch(() => undefined);
    await db.query(`DROP ROLE IF EXISTS ${tag}`).catch(() => undefined);
    await db.end();
  }
});
