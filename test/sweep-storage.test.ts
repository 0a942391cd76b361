/**
 * Study storage and the worker loop, against SQLite (a temp file) and a real PostgreSQL
 * ($TUNEVLSEG_TEST_PG, a postgres:// URL of a scratch database; `.ci/run` starts one). Without
 * that variable the PostgreSQL tests fail, unless TUNEVLSEG_SKIP_PG=1.
 *
 * The concurrency test forks this very file as worker processes (the TVS_SWEEP_TEST_WORKER
 * environment variable switches it to worker mode).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { StorageError } from '../src/sweep/storage.js';
import { openStorage, sqlitePath } from '../src/sweep/open-storage.js';
import type { StudyConfig, StudyStorage, TrialRecord } from '../src/sweep/storage.js';
import { runStudy, summarizeStudy, TrialPruned } from '../src/sweep/study.js';
import { categorical, float, int } from '../src/sweep/space.js';
import type { Params, SearchSpace } from '../src/sweep/space.js';

const WORKER_ENV = 'TVS_SWEEP_TEST_WORKER';
const THIS_FILE = fileURLToPath(import.meta.url);

const SPACE: SearchSpace = { params: { x: float(-5, 10), y: float(0, 15), k: categorical(['a', 'b', 'c']), n: int(1, 8) } };

/** Deterministic, cheap objective: Branin plus a categorical and an int term. */
function f(p: Params): number {
  const x = p['x'] as number;
  const y = p['y'] as number;
  const branin = (y - (5.1 / (4 * Math.PI ** 2)) * x ** 2 + (5 / Math.PI) * x - 6) ** 2 + 10 * (1 - 1 / (8 * Math.PI)) * Math.cos(x) + 10;
  return branin + ({ a: 0, b: 1, c: 2 } as Record<string, number>)[p['k'] as string]! + ((p['n'] as number) - 3) ** 2 / 10;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface WorkerConfig {
  url: string;
  study: string;
  nTrials: number;
  log: string;
  hangSeq: number;
}

// ---------------------------------------------------------------- worker mode

async function workerMain(cfg: WorkerConfig): Promise<void> {
  const storage = await openStorage(cfg.url);
  await runStudy({
    storage,
    study: cfg.study,
    nTrials: cfg.nTrials,
    workerId: `worker-${process.pid}`,
    heartbeatIntervalS: 0.1,
    heartbeatTimeoutS: 1.5,
    pollIntervalS: 0.03,
    objective: async (params, report, trial) => {
      fs.appendFileSync(cfg.log, `${JSON.stringify({ number: trial.number, seq: trial.seq, retryOf: trial.retryOf, pid: process.pid })}\n`);
      // The first attempt of one trial hangs (heartbeats keep going) until the test kills us.
      if (trial.seq === cfg.hangSeq && trial.retryOf === null) await sleep(600_000);
      await sleep(5 + ((trial.seq * 7) % 20));
      const value = f(params);
      await report(0, value);
      return value;
    },
  });
  await storage.close();
}

if (process.env[WORKER_ENV]) {
  await workerMain(JSON.parse(process.env[WORKER_ENV]) as WorkerConfig);
} else {
  defineTests();
}

// ---------------------------------------------------------------- tests

interface Backend {
  readonly name: string;
  readonly skip: string | false;
  url(): string;
}

function defineTests(): void {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tvs-sweep-'));
  let files = 0;
  const pgMissing =
    'TUNEVLSEG_TEST_PG is not set. Point it at a scratch PostgreSQL database, e.g. ' +
    'TUNEVLSEG_TEST_PG=postgres://tvs:tvs@localhost:5432/tvs (`.ci/run` installs and starts one; locally: ' +
    'apt-get install -y postgresql && pg_ctlcluster 15 main start, then create a role and database), ' +
    'or set TUNEVLSEG_SKIP_PG=1 to skip the PostgreSQL tests.';
  const backends: Backend[] = [
    { name: 'sqlite', skip: false, url: () => `sqlite:${path.join(tmp, `s${files++}.db`)}` },
    {
      name: 'postgres',
      skip: !process.env['TUNEVLSEG_TEST_PG'] && process.env['TUNEVLSEG_SKIP_PG'] === '1' ? 'TUNEVLSEG_SKIP_PG=1' : false,
      url: () => {
        const url = process.env['TUNEVLSEG_TEST_PG'];
        if (!url) throw new Error(pgMissing);
        return url;
      },
    },
  ];
  const unique = (tag: string): string => `${tag}-${process.pid}-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
  const config = (name: string, extra: Partial<StudyConfig> = {}): StudyConfig => ({
    name,
    direction: 'minimize',
    space: SPACE,
    seed: 42,
    ...extra,
  });

  /** Opens the backend, runs fn, deletes the studies it made, closes. */
  async function withStorage(b: Backend, fn: (s: StudyStorage, url: string) => Promise<void>): Promise<void> {
    const url = b.url();
    const storage = await openStorage(url);
    const before = new Set((await storage.listStudies()).map((s) => s.name));
    try {
      await fn(storage, url);
    } finally {
      for (const s of await storage.listStudies()) if (!before.has(s.name)) await storage.deleteStudy(s.name);
      await storage.close();
    }
  }

  test('storage URLs', async () => {
    assert.equal(sqlitePath('sqlite:runs/studies.db'), 'runs/studies.db');
    assert.equal(sqlitePath('sqlite:///runs/studies.db'), 'runs/studies.db');
    assert.equal(sqlitePath('sqlite:////abs/studies.db'), '/abs/studies.db');
    await assert.rejects(openStorage('mysql://x'), /unsupported storage URL.*sqlite:.*postgres:/);
    await assert.rejects(openStorage('sqlite:'), /no database path/);
  });

  for (const b of backends) {
    const t = (name: string, fn: () => Promise<void>): void => {
      test(`[${b.name}] ${name}`, { skip: b.skip }, fn);
    };

    t('create, load, list and delete studies', () =>
      withStorage(b, async (storage) => {
        const name = unique('crud');
        const s = await storage.createStudy(config(name, { lag: 2, attrs: { dataset: 'kvasir' } }));
        assert.equal(s.name, name);
        assert.equal(s.lag, 2);
        assert.deepEqual(s.space, SPACE);
        assert.deepEqual(s.attrs, { dataset: 'kvasir' });
        assert.equal(s.sampler.multivariate, true);
        await assert.rejects(storage.createStudy(config(name)), /already exists/);
        assert.equal((await storage.createStudy(config(name), { loadIfExists: true })).id, s.id);
        await assert.rejects(
          storage.createStudy(config(name, { space: { params: { x: float(0, 1) } } }), { loadIfExists: true }),
          /different search space/,
        );
        await assert.rejects(storage.createStudy(config(name, { direction: 'maximize' }), { loadIfExists: true }), /direction/);
        await assert.rejects(storage.createStudy(config(unique('bad'), { seed: -1 })), /seed/);
        await assert.rejects(storage.createStudy(config(unique('bad'), { sampler: { gamma: 2 } })), /sampler\.gamma/);
        const optunaLike = await storage.createStudy(config(unique('optuna'), { sampler: { multivariate: true, nStartupTrials: 5 } }));
        assert.deepEqual((await storage.loadStudy(optunaLike.name))?.sampler, { multivariate: true, nStartupTrials: 5 });
        await assert.rejects(
          storage.createStudy(config(unique('bad'), { space: { params: { x: { type: 'float', low: 1, high: 0 } } } })),
          /low < high/,
        );
        assert.equal((await storage.loadStudy(name))?.id, s.id);
        assert.equal(await storage.loadStudy(unique('none')), null);
        assert.ok((await storage.listStudies()).some((x) => x.id === s.id));
        assert.equal(await storage.deleteStudy(name), true);
        assert.equal(await storage.loadStudy(name), null);
        assert.equal(await storage.deleteStudy(name), false);
      }),
    );

    t('claims: each trial once, in order, waiting for the trials a lagged trial learns from', () =>
      withStorage(b, async (storage) => {
        const s = await storage.createStudy(config(unique('claim'), { lag: 1 }));
        const opts = (w: string) => ({ workerId: w, nTrials: 4, heartbeatTimeoutS: 60, independentBelow: 2 });
        const c0 = await storage.claimTrial(s.id, opts('A'));
        const c1 = await storage.claimTrial(s.id, opts('B'));
        assert.ok(c0.kind === 'trial' && c1.kind === 'trial');
        assert.deepEqual([c0.trial.number, c0.trial.seq, c1.trial.number, c1.trial.seq], [0, 0, 1, 1]);
        assert.equal(c0.trial.state, 'running');
        assert.equal(c0.trial.workerId, 'A');
        // seq 2 learns from seq < 1, which is still running.
        assert.equal((await storage.claimTrial(s.id, opts('C'))).kind, 'wait');
        assert.equal(await storage.setParams(c0.trial.id, 'A', { x: 1, y: 2, k: 'a', n: 3 }), true);
        assert.equal(await storage.setParams(c0.trial.id, 'B', { x: 1, y: 2, k: 'a', n: 3 }), false, "not B's trial");
        assert.equal(await storage.finishTrial(c0.trial.id, 'A', { state: 'complete', value: 5 }), true);
        assert.equal(await storage.finishTrial(c0.trial.id, 'A', { state: 'complete', value: 6 }), false, 'finished trials stay finished');
        const c2 = await storage.claimTrial(s.id, opts('C'));
        assert.ok(c2.kind === 'trial');
        assert.equal(c2.trial.seq, 2);
        assert.deepEqual(
          c2.history.map((h) => [h.seq, h.value, h.params]),
          [[0, 5, { x: 1, y: 2, k: 'a', n: 3 }]],
        );
        assert.equal((await storage.claimTrial(s.id, opts('D'))).kind, 'wait');
        await storage.setParams(c1.trial.id, 'B', { x: 0, y: 0, k: 'b', n: 1 });
        await storage.report(c1.trial.id, 'B', 0, 9);
        await storage.finishTrial(c1.trial.id, 'B', { state: 'pruned', value: 9 });
        const c3 = await storage.claimTrial(s.id, opts('D'));
        assert.ok(c3.kind === 'trial');
        assert.deepEqual(
          c3.history.map((h) => [h.seq, h.state, h.intermediate]),
          [
            [0, 'complete', []],
            [1, 'pruned', [[0, 9]]],
          ],
        );
        // All seqs handed out: wait while some run, done when all finished.
        assert.equal((await storage.claimTrial(s.id, opts('E'))).kind, 'wait');
        await storage.finishTrial(c2.trial.id, 'C', { state: 'failed', error: 'boom' });
        await storage.finishTrial(c3.trial.id, 'D', { state: 'complete', value: 1 });
        assert.equal((await storage.claimTrial(s.id, opts('E'))).kind, 'done');
        const trials = await storage.getTrials(s.id);
        assert.deepEqual(
          trials.map((x) => [x.number, x.seq, x.state]),
          [
            [0, 0, 'complete'],
            [1, 1, 'pruned'],
            [2, 2, 'failed'],
            [3, 3, 'complete'],
          ],
        );
        assert.equal(trials[2]!.error, 'boom');
      }),
    );

    t('concurrent claims from separate connections never share a trial number', () =>
      withStorage(b, async (storage, url) => {
        const s = await storage.createStudy(config(unique('race'), { lag: null }));
        const others = await Promise.all([openStorage(url), openStorage(url), openStorage(url)]);
        try {
          const claims = await Promise.all(
            Array.from({ length: 24 }, (_, i) =>
              (others[i % 3] as StudyStorage).claimTrial(s.id, { workerId: `w${i}`, nTrials: 20, heartbeatTimeoutS: 60 }),
            ),
          );
          const got = claims.filter((c) => c.kind === 'trial').map((c) => (c.kind === 'trial' ? c.trial : (null as never)));
          assert.equal(got.length, 20);
          assert.deepEqual(
            got.map((x) => x.number).sort((p, q) => p - q),
            Array.from({ length: 20 }, (_, i) => i),
          );
          assert.deepEqual(
            got.map((x) => x.seq).sort((p, q) => p - q),
            Array.from({ length: 20 }, (_, i) => i),
          );
          assert.equal(claims.filter((c) => c.kind === 'wait').length, 4);
        } finally {
          for (const o of others) await o.close();
        }
      }),
    );

    t('a trial without heartbeats is failed and re-enqueued with its parameters', () =>
      withStorage(b, async (storage) => {
        const s = await storage.createStudy(config(unique('stale')));
        const c = await storage.claimTrial(s.id, { workerId: 'A', nTrials: 5, heartbeatTimeoutS: 60 });
        assert.ok(c.kind === 'trial');
        const params = { x: 1.5, y: 2.5, k: 'c', n: 4 };
        await storage.setParams(c.trial.id, 'A', params);
        assert.equal(await storage.heartbeat(c.trial.id, 'A'), true);
        assert.equal(await storage.heartbeat(c.trial.id, 'B'), false);
        await sleep(150);
        assert.deepEqual(await storage.failStaleTrials(s.id, 60), []);
        assert.deepEqual(await storage.failStaleTrials(s.id, 0.05), [0]);
        assert.equal(await storage.heartbeat(c.trial.id, 'A'), false, 'the lost worker is told');
        assert.equal(await storage.report(c.trial.id, 'A', 0, 1), false);
        assert.equal(await storage.finishTrial(c.trial.id, 'A', { state: 'complete', value: 1 }), false);
        const retry = await storage.claimTrial(s.id, { workerId: 'B', nTrials: 5, heartbeatTimeoutS: 60 });
        assert.ok(retry.kind === 'trial');
        assert.deepEqual([retry.trial.number, retry.trial.seq, retry.trial.retryOf, retry.trial.workerId], [1, 0, 0, 'B']);
        assert.deepEqual(retry.trial.params, params);
        const [old] = await storage.getTrials(s.id);
        assert.equal(old!.state, 'failed');
        assert.match(old!.error ?? '', /worker A stopped sending heartbeats/);
      }),
    );

    t('intermediate values, attrs, NaN and infinity round-trip', () =>
      withStorage(b, async (storage) => {
        const s = await storage.createStudy(config(unique('iv')));
        const c = await storage.claimTrial(s.id, { workerId: 'A', nTrials: 5, heartbeatTimeoutS: 60 });
        assert.ok(c.kind === 'trial');
        await storage.report(c.trial.id, 'A', 2, 0.25);
        await storage.report(c.trial.id, 'A', 0, 0.5);
        await storage.report(c.trial.id, 'A', 1, NaN);
        await storage.report(c.trial.id, 'A', 2, 0.125);
        await assert.rejects(storage.report(c.trial.id, 'A', -1, 0), /step/);
        await assert.rejects(storage.finishTrial(c.trial.id, 'A', { state: 'complete', value: NaN }), /numeric value/);
        await storage.finishTrial(c.trial.id, 'A', { state: 'complete', value: -Infinity, attrs: { run: 'runs/0', dice: [0.5, 0.7] } });
        const [t0] = await storage.getTrials(s.id);
        assert.deepEqual(t0!.intermediate, [
          [0, 0.5],
          [1, NaN],
          [2, 0.125],
        ]);
        assert.equal(t0!.value, -Infinity);
        assert.deepEqual(t0!.attrs, { run: 'runs/0', dice: [0.5, 0.7] });
        assert.ok(t0!.finishedAt! >= t0!.startedAt!);
      }),
    );

    t('runStudy: enqueued trials first, errors and NaN recorded as failed, pruning, summary', () =>
      withStorage(b, async (storage) => {
        const name = unique('run');
        const s = await storage.createStudy(config(name));
        await storage.enqueueTrial(s.id, { x: 3, y: 2, k: 'a', n: 3 });
        const seen: Params[] = [];
        const r = await runStudy({
          storage,
          study: name,
          nTrials: 8,
          workerId: 'solo',
          objective: async (p, report, trial) => {
            seen.push(p);
            if (trial.seq === 2) throw new Error('diverged');
            if (trial.seq === 3) return NaN;
            await report(0, f(p));
            if (trial.seq === 4) throw new TrialPruned();
            return { value: f(p), attrs: { seq: trial.seq } };
          },
        });
        assert.deepEqual(seen[0], { x: 3, y: 2, k: 'a', n: 3 });
        assert.equal(r.ran, 8);
        const sum = await summarizeStudy(storage, name);
        assert.deepEqual(sum.counts, { waiting: 0, running: 0, complete: 5, pruned: 1, failed: 2 });
        assert.match(sum.trials[2]!.error ?? '', /Error: diverged/);
        assert.match(sum.trials[3]!.error ?? '', /NaN/);
        assert.equal(sum.trials[4]!.value, f(seen[4]!), 'a pruned trial keeps its last reported value');
        const complete = sum.trials.filter((x) => x.state === 'complete');
        assert.equal(sum.best!.value, Math.min(...complete.map((x) => x.value as number)));
        assert.deepEqual(sum.best!.attrs, { seq: sum.best!.seq });
        assert.equal(sum.importances.length, 4);
        await assert.rejects(
          runStudy({
            storage,
            study: name,
            nTrials: 9,
            catchErrors: false,
            objective: async () => {
              throw new RangeError('stop');
            },
          }),
          /stop/,
        );
        assert.equal((await storage.getTrials(s.id)).at(-1)!.state, 'failed');
        await assert.rejects(runStudy({ storage, study: unique('missing'), nTrials: 1, objective: async () => 0 }), StorageError);
      }),
    );

    t('a study resumes after its workers stopped, with the trials a serial run gives', () =>
      withStorage(b, async (storage, url) => {
        const name = unique('resume');
        const ctl = new AbortController();
        const firstStorage = await openStorage(url);
        const first = await runStudy({
          storage: firstStorage,
          study: config(name),
          nTrials: 20,
          objective: async (p) => f(p),
          signal: ctl.signal,
          onTrialFinished: (t) => {
            if (t.seq === 6) ctl.abort();
          },
        });
        assert.equal(first.ran, 7);
        await firstStorage.close();
        // Everything stopped; a new worker (another connection) finishes the study.
        const r = await runStudy({ storage, study: name, nTrials: 20, objective: async (p) => f(p) });
        assert.equal(r.ran, 13);
        const serial = await runStudy({ storage, study: config(unique('resume-serial')), nTrials: 20, objective: async (p) => f(p) });
        const a = await storage.getTrials(r.study.id);
        const bt = await storage.getTrials(serial.study.id);
        assert.deepEqual(
          a.map((x) => [x.seq, x.state, x.params, x.value]),
          bt.map((x) => [x.seq, x.state, x.params, x.value]),
        );
        assert.equal(r.best!.value, serial.best!.value);
      }),
    );

    t('4 worker processes, one killed mid-trial: every trial runs once, the lost one re-runs, results equal a serial run', () =>
      withStorage(b, async (storage, url) => {
        const name = unique('conc');
        const nTrials = 40;
        const hangSeq = 12;
        const study = await storage.createStudy(config(name, { lag: 3 }));
        const log = path.join(tmp, `${name}.log`);
        fs.writeFileSync(log, '');
        const cfg: WorkerConfig = { url, study: name, nTrials, log, hangSeq };
        const env: NodeJS.ProcessEnv = { ...process.env, [WORKER_ENV]: JSON.stringify(cfg) };
        delete env['NODE_TEST_CONTEXT'];
        const stderr: string[] = [];
        const workers: ChildProcess[] = Array.from({ length: 4 }, () => {
          const w = fork(THIS_FILE, [], { env, execArgv: [], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
          w.stderr?.on('data', (d: Buffer) => stderr.push(d.toString()));
          return w;
        });
        const exits = workers.map(
          (w) =>
            new Promise<{ code: number | null; signal: string | null; pid: number }>((res) =>
              w.on('exit', (code, signal) => res({ code, signal, pid: w.pid as number })),
            ),
        );
        const readLog = (): { number: number; seq: number; retryOf: number | null; pid: number }[] =>
          fs
            .readFileSync(log, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as { number: number; seq: number; retryOf: number | null; pid: number });
        let victim: number | undefined;
        for (let i = 0; i < 600 && victim === undefined; i++) {
          victim = readLog().find((e) => e.seq === hangSeq && e.retryOf === null)?.pid;
          if (victim === undefined) await sleep(50);
        }
        assert.ok(victim !== undefined, `trial seq ${hangSeq} never started; worker stderr: ${stderr.join('')}`);
        await sleep(300); // mid-trial, with heartbeats flowing
        process.kill(victim, 'SIGKILL');
        const results = await Promise.all(exits);
        for (const r of results) {
          if (r.pid === victim) assert.equal(r.signal, 'SIGKILL');
          else assert.equal(r.code, 0, `worker ${r.pid} exited with ${r.code}: ${stderr.join('')}`);
        }

        const events = readLog();
        const numbers = events.map((e) => e.number);
        assert.equal(new Set(numbers).size, numbers.length, 'a trial number ran twice');
        const trials = await storage.getTrials(study.id);
        assert.equal(trials.length, nTrials + 1);
        assert.deepEqual(
          trials.map((x) => x.number),
          Array.from({ length: nTrials + 1 }, (_, i) => i),
        );
        const lost = trials.filter((x) => x.state === 'failed');
        assert.equal(lost.length, 1);
        assert.equal(lost[0]!.seq, hangSeq);
        assert.equal(lost[0]!.workerId, `worker-${victim}`);
        assert.match(lost[0]!.error ?? '', /heartbeats/);
        const retry = trials.find((x) => x.retryOf === lost[0]!.number) as TrialRecord;
        assert.equal(retry.state, 'complete');
        assert.equal(retry.seq, hangSeq);
        assert.deepEqual(retry.params, lost[0]!.params);
        assert.notEqual(retry.workerId, lost[0]!.workerId);
        const complete = trials.filter((x) => x.state === 'complete');
        assert.deepEqual(
          complete.map((x) => x.seq).sort((p, q) => p - q),
          Array.from({ length: nTrials }, (_, i) => i),
        );
        assert.ok(new Set(complete.map((x) => x.workerId)).size >= 3, 'the work was shared');
        for (const x of complete) assert.deepEqual(x.intermediate, [[0, x.value]]);

        // The same study run serially gives the same trials, hence the same best value.
        const serial = await runStudy({ storage, study: config(unique('conc-serial'), { lag: 3 }), nTrials, objective: async (p) => f(p) });
        const serialTrials = await storage.getTrials(serial.study.id);
        const bySeq = (xs: readonly TrialRecord[]) =>
          xs
            .filter((x) => x.state === 'complete')
            .sort((p, q) => p.seq - q.seq)
            .map((x) => [x.seq, x.params, x.value]);
        assert.deepEqual(bySeq(trials), bySeq(serialTrials));
        const best = Math.min(...complete.map((x) => x.value as number));
        assert.equal(best, serial.best!.value);
      }),
    );
  }
}
