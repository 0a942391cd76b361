// Issue 22, sweeps that cannot delete and survive their database: a study name that is a path,
// one name in two storages, a run folder the trial did not make, a storage call that fails
// once while a result is being recorded, a SQLite lock held past the busy timeout, a PostgreSQL
// connection terminated mid-trial, and a worker stopped while holding the claim lock (SQLite and
// PostgreSQL). Each test checks the exit code or the trials' states, the message, and that
// nothing it should not touch changed (content hashes before and after). PostgreSQL cases use
// $TUNEVLSEG_TEST_PG (scripts/start-test-postgres.sh), with study names unique to this process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { openStorage } from '../../src/sweep/open-storage.js';
import { TransientStorageError, type StudyStorage } from '../../src/sweep/storage.js';
import { runStudy } from '../../src/sweep/study.js';
import { float } from '../../src/sweep/space.js';
import { cli, tinySweepArgs, tinySweepSetup, treeHashes } from './sweep-helpers.js';

const pgSkip = !process.env['TUNEVLSEG_TEST_PG'] && process.env['TUNEVLSEG_SKIP_PG'] === '1' ? 'TUNEVLSEG_SKIP_PG=1' : false;
const pgUrl = (): string => {
  const u = process.env['TUNEVLSEG_TEST_PG'];
  if (!u) throw new Error('TUNEVLSEG_TEST_PG is not set (scripts/start-test-postgres.sh prints one), or set TUNEVLSEG_SKIP_PG=1');
  return u;
};
const unique = (tag: string): string => `${tag}-${process.pid}-${randomBytes(3).toString('hex')}`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const SPACE = { params: { x: float(0, 1) } };

/** A storage whose `method` throws a transient error `times` times: before the real call, or after it (the reply lost). */
function flaky(inner: StudyStorage, method: 'finishTrial' | 'report' | 'claimTrial', o: { times: number; after?: boolean }): StudyStorage {
  let left = o.times;
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (prop !== method || typeof v !== 'function') return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      return async (...args: unknown[]) => {
        if (left > 0 && !o.after) {
          left--;
          throw new TransientStorageError('injected: connection lost');
        }
        const out = await (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        if (left > 0 && o.after) {
          left--;
          throw new TransientStorageError('injected: connection lost after the write');
        }
        return out;
      };
    },
  });
}

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tvs-hostile-storage-'));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- names and run folders (CLI)

test('a study name that is a path is refused before anything is created; the folder it points at is untouched', async () => {
  await withTmp(async (dir) => {
    const { data, config } = await tinySweepSetup(dir);
    const victim = join(dir, 'victim');
    mkdirSync(victim);
    writeFileSync(join(victim, 'thesis.tex'), 'years of work\n');
    const before = treeHashes(dir);
    const work = join(dir, 'a', 'b');
    mkdirSync(work, { recursive: true });
    const r = cli(
      tinySweepArgs({ data, storage: `sqlite:${join(work, 'studies.db')}`, config, runsDir: 'runs', trials: 1, study: '../../victim' }),
      work,
    );
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /study name "\.\.\/\.\.\/victim" contains a path separator: a study name is a name, not a path/);
    assert.deepEqual(treeHashes(dir), before, 'nothing changed, nothing was created');
    assert.deepEqual(readdirSync(work), []);
  });
});

test('one study name in two storages: separate trial folders; a folder the trial did not make is refused, naming it', async () => {
  await withTmp(async (dir) => {
    const { data, config } = await tinySweepSetup(dir);
    const runs = join(dir, 'runs');
    const sweep = (storage: string, trials: number): ReturnType<typeof cli> =>
      cli(tinySweepArgs({ data, storage: `sqlite:${join(dir, storage)}`, config, runsDir: runs, trials, study: 'same' }), dir);
    const runDirs = async (storage: string): Promise<Record<number, string>> => {
      const s = await openStorage(`sqlite:${join(dir, storage)}`, { create: false });
      try {
        const study = (await s.loadStudy('same'))!;
        return Object.fromEntries(
          (await s.getTrials(study.id)).filter((t) => t.state === 'complete').map((t) => [t.number, t.attrs['runDir'] as string]),
        );
      } finally {
        await s.close();
      }
    };
    const a = sweep('a.db', 1);
    assert.equal(a.status, 0, a.stderr);
    const aRuns = await runDirs('a.db');
    const aHashes = treeHashes(dirname(aRuns[0]!));
    const b = sweep('b.db', 1);
    assert.equal(b.status, 0, b.stderr);
    const bRuns = await runDirs('b.db');
    assert.notEqual(dirname(bRuns[0]!), dirname(aRuns[0]!), "the second storage's study has its own trial folder");
    assert.deepEqual(treeHashes(dirname(aRuns[0]!)), aHashes, "the first study's finished trial runs are untouched");
    assert.deepEqual(await runDirs('a.db'), aRuns, 'its records still point at its own runs');

    // Something else already sits where study a's next trial would write: the trial fails naming it, and it is kept.
    const planted = join(dirname(aRuns[0]!), 'trial-001');
    mkdirSync(planted);
    writeFileSync(join(planted, 'notes.txt'), 'not a run\n');
    const plantedBefore = treeHashes(planted);
    const more = sweep('a.db', 2);
    assert.equal(more.status, 0, more.stderr); // trial 0 completed earlier
    assert.match(more.stdout, new RegExp(`trial 1 failed: .*run folder ${planted.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} already exists`));
    assert.deepEqual(treeHashes(planted), plantedBefore);
    assert.deepEqual(
      treeHashes(dirname(aRuns[0]!), (rel) => rel.startsWith('trial-001')),
      aHashes,
    );
  });
});

// ---------------------------------------------------------------- results never lost (library)

interface Backend {
  name: string;
  skip: string | false;
  url(dir: string): string;
}
const backends: Backend[] = [
  { name: 'sqlite', skip: false, url: (dir) => `sqlite:${join(dir, 'studies.db')}` },
  { name: 'postgres', skip: pgSkip, url: () => pgUrl() },
];

for (const b of backends) {
  test(
    `[${b.name}] a storage call failing while a result is recorded: retried, the trial completes, one line per outage`,
    { skip: b.skip },
    () =>
      withTmp(async (dir) => {
        const base = await openStorage(b.url(dir));
        const name = unique('flaky-finish');
        try {
          await base.createStudy({ name, direction: 'minimize', space: SPACE, seed: 1 });
          for (const after of [false, true]) {
            const lines: string[] = [];
            const storage = flaky(base, 'finishTrial', { times: 1, after });
            const n = after ? 4 : 2;
            const r = await runStudy({
              storage,
              study: name,
              nTrials: n,
              objective: async (p) => p['x'] as number,
              log: (l) => lines.push(l),
            });
            assert.equal(r.study.name, name);
            const trials = await base.getTrials(r.study.id);
            assert.deepEqual(
              trials.map((t) => t.state),
              Array(n).fill('complete'),
              `a finished result is never turned into failed (fault ${after ? 'after' : 'before'} the write)`,
            );
            assert.equal(lines.length, 1, lines.join('\n'));
            assert.match(
              lines[0]!,
              new RegExp(
                `storage ${b.name === 'sqlite' ? 'sqlite:' : 'postgres'}.*: cannot record the result of trial \\d+ \\(injected: connection lost.*\\); retrying with backoff for up to 600 s`,
              ),
            );
          }
        } finally {
          await base.deleteStudy(name);
          await base.close();
        }
      }),
  );
}

test('[sqlite] a write lock held past the busy timeout while a result is recorded: the worker keeps running and the trial completes', () =>
  withTmp(async (dir) => {
    const file = join(dir, 'studies.db');
    const storage = await openStorage(`sqlite:${file}`, { busyTimeoutMs: 200 });
    const other = new Database(file);
    try {
      const name = unique('locked');
      await storage.createStudy({ name, direction: 'minimize', space: SPACE, seed: 1 });
      const lines: string[] = [];
      let ticks = 0;
      const ticker = setInterval(() => ticks++, 20);
      const r = await runStudy({
        storage,
        study: name,
        nTrials: 2,
        log: (l) => lines.push(l),
        objective: async (p, _report, trial) => {
          if (trial.seq === 0) {
            // Another process takes the write lock just as this trial finishes, and keeps it 1.5 s (> 200 ms).
            other.exec('BEGIN IMMEDIATE');
            setTimeout(() => other.exec('COMMIT'), 1500);
            ticks = 0;
          }
          return p['x'] as number;
        },
      });
      clearInterval(ticker);
      const trials = await storage.getTrials(r.study.id);
      assert.deepEqual(
        trials.map((t) => t.state),
        ['complete', 'complete'],
      );
      assert.equal(lines.length, 1, lines.join('\n'));
      assert.match(lines[0]!, /cannot record the result of trial 0 \(.*the database stayed locked by another process/);
      assert.ok(ticks > 20, `the event loop ran while the lock was held (${ticks} ticks of 20 ms)`);
    } finally {
      other.close();
      await storage.close();
    }
  }));

test("[postgres] the worker's connections terminated mid-trial: it reconnects and the trial completes", { skip: pgSkip }, async () => {
  const appName = unique('tvs-terminated').replace(/-/g, '_');
  const u = new URL(pgUrl());
  u.searchParams.set('application_name', appName);
  const storage = await openStorage(u.toString());
  const admin = new pg.Client({ connectionString: pgUrl() });
  await admin.connect();
  const name = unique('terminated');
  try {
    await storage.createStudy({ name, direction: 'minimize', space: SPACE, seed: 1 });
    const lines: string[] = [];
    let killed = 0;
    const r = await runStudy({
      storage,
      study: name,
      nTrials: 3,
      log: (l) => lines.push(l),
      heartbeatIntervalS: 0.05,
      heartbeatTimeoutS: 30,
      objective: async (p, report, trial) => {
        await report(0, p['x'] as number);
        if (trial.seq === 1) {
          killed =
            (await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [appName])).rowCount ??
            0;
          await sleep(200); // heartbeats meet the dead connections
        }
        return p['x'] as number;
      },
    });
    assert.ok(killed > 0, 'the worker had connections to terminate');
    const trials = await storage.getTrials(r.study.id);
    assert.deepEqual(
      trials.map((t) => t.state),
      ['complete', 'complete', 'complete'],
    );
    assert.ok(lines.length <= 1, lines.join('\n'));
  } finally {
    await storage.deleteStudy(name).catch(() => undefined);
    await storage.close();
    await admin.end();
  }
});

// ---------------------------------------------------------------- a stalled claim

test('[sqlite] a process holding the write lock longer than the heartbeat timeout: no running trial is reaped, all complete', () =>
  withTmp(async (dir) => {
    const file = join(dir, 'studies.db');
    const a = await openStorage(`sqlite:${file}`);
    const bStorage = await openStorage(`sqlite:${file}`);
    const name = unique('stall');
    const stalled = new Database(file);
    try {
      await a.createStudy({ name, direction: 'minimize', space: SPACE, seed: 1, lag: null });
      let ticks = 0;
      const started = new Promise<void>((resolve) => {
        void runStudy({
          storage: a,
          study: name,
          nTrials: 3,
          workerId: 'A',
          heartbeatIntervalS: 0.1,
          heartbeatTimeoutS: 1,
          pollIntervalS: 0.05,
          log: () => undefined,
          objective: async (p, _r, trial) => {
            if (trial.seq === 0) {
              // A worker stopped inside its claim transaction holds the write lock for 2.5 s.
              stalled.exec('BEGIN IMMEDIATE');
              setTimeout(() => stalled.exec('COMMIT'), 2500);
              resolve();
              const t = setInterval(() => ticks++, 50);
              await sleep(3500);
              clearInterval(t);
            }
            return p['x'] as number;
          },
        }).then(() => undefined);
      });
      await started;
      // Worker B wants a trial during the stall; when the lock comes back, its claim must not reap A's trial.
      await runStudy({
        storage: bStorage,
        study: name,
        nTrials: 3,
        workerId: 'B',
        heartbeatIntervalS: 0.1,
        heartbeatTimeoutS: 1,
        pollIntervalS: 0.05,
        log: () => undefined,
        objective: async (p) => p['x'] as number,
      });
      let trials = await a.getTrials((await a.loadStudy(name))!.id);
      for (let i = 0; i < 100 && trials.some((t) => t.state === 'running'); i++) {
        await sleep(100);
        trials = await a.getTrials(trials[0]!.studyId);
      }
      assert.deepEqual(
        trials.map((t) => [t.seq, t.state]),
        [
          [0, 'complete'],
          [1, 'complete'],
          [2, 'complete'],
        ],
        'no trial was reaped because of the stall',
      );
      assert.equal(trials[0]!.workerId, 'A');
      assert.ok(ticks > 30, `worker A's event loop kept running through the stall (${ticks} ticks of 50 ms)`);
    } finally {
      stalled.close();
      await a.close();
      await bStorage.close();
    }
  }));

test(
  '[postgres] a worker stopped while holding the claim lock: claims time out and retry, the server frees the lock, all complete',
  { skip: pgSkip },
  async () => {
    const a = await openStorage(pgUrl());
    const bStorage = await openStorage(pgUrl(), { lockTimeoutMs: 200 });
    const name = unique('pgstall');
    // The stopped worker: a session holding the study's advisory lock inside a transaction, idle;
    // the server ends it after 1.5 s (tunevlseg's pool sets idle_in_transaction_session_timeout).
    const stopped = new pg.Client({ connectionString: pgUrl(), idle_in_transaction_session_timeout: 1500 });
    stopped.on('error', () => undefined);
    await stopped.connect();
    try {
      const study = await a.createStudy({ name, direction: 'minimize', space: SPACE, seed: 1, lag: null });
      await stopped.query('BEGIN');
      await stopped.query('SELECT pg_advisory_xact_lock($1, $2)', [0x7476, study.id]);
      const lines: string[] = [];
      const t0 = Date.now();
      await runStudy({
        storage: bStorage,
        study: name,
        nTrials: 2,
        workerId: 'B',
        pollIntervalS: 0.05,
        log: (l) => lines.push(l),
        objective: async (p) => p['x'] as number,
      });
      assert.ok(Date.now() - t0 >= 1000, 'the claim waited for the stalled holder');
      const trials = await a.getTrials(study.id);
      assert.deepEqual(
        trials.map((t) => t.state),
        ['complete', 'complete'],
      );
      assert.equal(lines.length, 1, lines.join('\n'));
      assert.match(lines[0]!, /cannot claim a trial \(.*the study's lock stayed taken for 0\.2 s/);
    } finally {
      await stopped.end().catch(() => undefined);
      await a.deleteStudy(name).catch(() => undefined);
      await a.close();
      await bStorage.close();
    }
  },
);
