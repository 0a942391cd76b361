/**
 * Chaos test of the sweep engine (issue 22): several worker processes on one study, random
 * SIGKILLs (each replaced by a fresh worker), a worker stopped (SIGSTOP) long enough for its trial
 * to be given away and then woken (its late result must be refused), one injected transient
 * storage error while a result is recorded, and with PostgreSQL a database outage (every
 * connection cut and new ones refused for 2 s, through a TCP proxy in this process). The study
 * must end with every logical trial complete exactly once, with the parameters a serial run
 * gives, and every surviving worker exiting 0.
 *
 * SQLite always; PostgreSQL with $TUNEVLSEG_TEST_PG (unless TUNEVLSEG_SKIP_PG=1). The workers
 * are this file forked in worker mode (TVS_CHAOS_WORKER); the objective is a cheap function.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStorage, openStoragePatiently } from '../src/sweep/open-storage.js';
import { TransientStorageError, type StudyConfig, type StudyStorage, type TrialRecord } from '../src/sweep/storage.js';
import { runStudy } from '../src/sweep/study.js';
import { float, int } from '../src/sweep/space.js';
import type { Params } from '../src/sweep/space.js';

const WORKER_ENV = 'TVS_CHAOS_WORKER';
const THIS_FILE = fileURLToPath(import.meta.url);
const SPACE = { params: { x: float(-3, 3), n: int(1, 6) } };
const f = (p: Params): number => ((p['x'] as number) - 1) ** 2 + ((p['n'] as number) - 4) ** 2 / 10;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface WorkerConfig {
  url: string;
  study: string;
  nTrials: number;
  log: string;
  faultOnFinish: boolean;
  id: string;
}

/** Worker mode: the runStudy loop with a cheap objective; optionally one transient failure of the first finishTrial. */
async function workerMain(cfg: WorkerConfig): Promise<void> {
  // A worker started while the database is away waits for it, as `tunevlseg worker` does.
  const real = await openStoragePatiently(cfg.url, {}, (line) =>
    fs.appendFileSync(cfg.log, `${JSON.stringify({ event: 'log', worker: cfg.id, line })}\n`),
  );
  let fault = cfg.faultOnFinish;
  const storage = new Proxy(real, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      if (prop !== 'finishTrial') return (v as (...a: unknown[]) => unknown).bind(target);
      return async (...args: unknown[]) => {
        if (fault) {
          fault = false;
          fs.appendFileSync(cfg.log, `${JSON.stringify({ event: 'fault', worker: cfg.id })}\n`);
          throw new TransientStorageError('injected: connection lost while recording a result');
        }
        return (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
      };
    },
  }) as StudyStorage;
  await runStudy({
    storage,
    study: cfg.study,
    nTrials: cfg.nTrials,
    workerId: cfg.id,
    heartbeatIntervalS: 0.1,
    heartbeatTimeoutS: 1.5,
    pollIntervalS: 0.03,
    log: (line) => fs.appendFileSync(cfg.log, `${JSON.stringify({ event: 'log', worker: cfg.id, line })}\n`),
    objective: async (params, report, trial) => {
      fs.appendFileSync(
        cfg.log,
        `${JSON.stringify({ event: 'start', worker: cfg.id, pid: process.pid, number: trial.number, seq: trial.seq })}\n`,
      );
      await sleep(300 + ((trial.seq * 37) % 100));
      await report(0, f(params));
      return f(params);
    },
  });
  await real.close();
}

if (process.env[WORKER_ENV]) {
  await workerMain(JSON.parse(process.env[WORKER_ENV]) as WorkerConfig);
} else {
  defineTests();
}

/** A TCP proxy to PostgreSQL that can go down (cut every connection, refuse new ones) and come back on the same port. */
class Proxy2 {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  port = 0;
  constructor(private readonly target: { host: string; port: number }) {}
  async up(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', () => resolve()));
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }
  async down(): Promise<void> {
    const s = this.server;
    this.server = null;
    for (const sock of this.sockets) sock.destroy();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

function defineTests(): void {
  const pgSkip = !process.env['TUNEVLSEG_TEST_PG'] && process.env['TUNEVLSEG_SKIP_PG'] === '1' ? 'TUNEVLSEG_SKIP_PG=1' : false;
  for (const backend of ['sqlite', 'postgres'] as const) {
    test(
      `[${backend}] chaos: 4 workers, SIGKILLs, a stopped worker, an injected storage error${backend === 'postgres' ? ', a database outage' : ''}: every trial completes once`,
      { skip: backend === 'postgres' ? pgSkip : false, timeout: 180_000 },
      async () => {
        const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tvs-chaos-'));
        let proxy: Proxy2 | null = null;
        let url: string;
        if (backend === 'sqlite') url = `sqlite:${path.join(tmp, 'studies.db')}`;
        else {
          const admin = process.env['TUNEVLSEG_TEST_PG'];
          if (!admin) throw new Error('TUNEVLSEG_TEST_PG is not set (scripts/start-test-postgres.sh), or set TUNEVLSEG_SKIP_PG=1');
          const u = new URL(admin);
          proxy = new Proxy2({ host: u.hostname, port: Number(u.port || 5432) });
          await proxy.up();
          u.host = `127.0.0.1:${proxy.port}`;
          url = u.toString();
        }
        const storage = await openStorage(backend === 'sqlite' ? url : process.env['TUNEVLSEG_TEST_PG']!);
        const name = `chaos-${process.pid}-${randomBytes(3).toString('hex')}`;
        const nTrials = 50;
        const config: StudyConfig = { name, direction: 'minimize', space: SPACE, seed: 7, lag: 3 };
        const children: { child: ChildProcess; id: string; exit: Promise<{ code: number | null; signal: string | null }> }[] = [];
        try {
          await storage.createStudy(config);
          const log = path.join(tmp, 'events.jsonl');
          fs.writeFileSync(log, '');
          const stderr: string[] = [];
          let spawned = 0;
          const spawnWorker = (faultOnFinish = false): void => {
            const id = `w${spawned++}`;
            const cfg: WorkerConfig = { url, study: name, nTrials, log, faultOnFinish, id };
            const env: NodeJS.ProcessEnv = { ...process.env, [WORKER_ENV]: JSON.stringify(cfg) };
            delete env['NODE_TEST_CONTEXT'];
            const child = fork(THIS_FILE, [], { env, execArgv: [], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
            child.stderr?.on('data', (d: Buffer) => stderr.push(d.toString()));
            const exit = new Promise<{ code: number | null; signal: string | null }>((res) =>
              child.on('exit', (code, signal) => res({ code, signal })),
            );
            children.push({ child, id, exit });
          };
          const events = (): Record<string, unknown>[] =>
            fs
              .readFileSync(log, 'utf8')
              .split('\n')
              .filter(Boolean)
              .map((l) => JSON.parse(l) as Record<string, unknown>);
          spawnWorker(true);
          for (let i = 0; i < 3; i++) spawnWorker();

          // Chaos while the study runs: three SIGKILLs of a worker in a trial (each replaced),
          // one SIGSTOP long enough for the trial to be given away, and (PostgreSQL) an outage.
          const alive = (): typeof children => children.filter((c) => c.child.exitCode === null && c.child.signalCode === null);
          const inTrial = (): (typeof children)[number] | undefined => {
            const ev = events();
            const started = new Set(ev.filter((e) => e['event'] === 'start').map((e) => e['worker']));
            // The worker that injects the storage error is spared until it has done so.
            const faulted = ev.some((e) => e['event'] === 'fault');
            return alive().find((c) => started.has(c.id) && (faulted || c.id !== 'w0'));
          };
          // The plan, each step done as soon as a worker is in a trial: a SIGKILL (the worker is
          // replaced), a SIGSTOP (the worker is woken 2.5 s later, after its trial was given
          // away), with PostgreSQL a 2 s outage, then two more SIGKILLs.
          const plan: ('kill' | 'stop' | 'outage')[] = ['kill', 'stop', ...(proxy ? ['outage' as const] : []), 'kill', 'kill'];
          const chaos = { kills: 0, stops: 0, outages: 0 };
          let stopped: ChildProcess | null = null;
          let stoppedAt = 0;
          while (plan.length > 0 || stopped) {
            await sleep(500);
            if (stopped && Date.now() - stoppedAt > 2500) {
              stopped.kill('SIGCONT');
              stopped = null;
            }
            const victim = inTrial();
            if (plan.length === 0 || !victim) continue;
            const step = plan.shift()!;
            if (step === 'stop') {
              stopped = victim.child;
              stoppedAt = Date.now();
              stopped.kill('SIGSTOP');
              chaos.stops++;
            } else if (step === 'outage' && proxy) {
              await proxy.down();
              await sleep(2000);
              await proxy.up();
              chaos.outages++;
            } else {
              victim.child.kill('SIGKILL');
              chaos.kills++;
              spawnWorker();
            }
          }
          // A hang fails through the test's own timeout.
          const results = await Promise.all(children.map((c) => c.exit.then((r) => ({ ...r, id: c.id }))));
          for (const r of results) {
            if (r.signal === 'SIGKILL') continue;
            assert.equal(r.code, 0, `worker ${r.id} exited with ${String(r.code)}: ${stderr.join('')}`);
          }
          const trials = await storage.getTrials((await storage.loadStudy(name))!.id);
          const complete = trials.filter((t) => t.state === 'complete');
          assert.deepEqual(
            complete.map((t) => t.seq).sort((a, b) => a - b),
            Array.from({ length: nTrials }, (_, i) => i),
            'every logical trial complete, none twice',
          );
          assert.equal(trials.filter((t) => t.state === 'running' || t.state === 'waiting').length, 0, 'none stuck');
          for (const t of trials.filter((x) => x.state === 'failed'))
            assert.match(t.error ?? '', /stopped sending heartbeats/, 'only trials of killed or stopped workers failed');
          assert.ok(
            chaos.kills === 3 && chaos.stops === 1 && chaos.outages === (proxy ? 1 : 0),
            `the chaos happened while the study ran: ${JSON.stringify(chaos)}`,
          );
          const ev = events();
          assert.ok(
            ev.some((e) => e['event'] === 'fault'),
            'the transient error was injected',
          );
          assert.ok(
            !trials.some((t) => t.state === 'failed' && /injected/.test(t.error ?? '')),
            'the injected storage error failed no trial',
          );
          for (const t of complete) assert.deepEqual(t.intermediate, [[0, t.value]]);

          // The same study run serially gives the same parameters and values.
          const serialName = `${name}-serial`;
          await runStudy({ storage, study: { ...config, name: serialName }, nTrials, objective: async (p) => f(p), log: () => undefined });
          const serial = (await storage.getTrials((await storage.loadStudy(serialName))!.id)).filter((t) => t.state === 'complete');
          const bySeq = (xs: TrialRecord[]): unknown[] => [...xs].sort((a, b) => a.seq - b.seq).map((t) => [t.seq, t.params, t.value]);
          assert.deepEqual(bySeq(complete), bySeq(serial));
          await storage.deleteStudy(serialName);
        } finally {
          for (const c of children)
            if (c.child.exitCode === null && c.child.signalCode === null) {
              c.child.kill('SIGCONT');
              c.child.kill('SIGKILL');
            }
          await storage.deleteStudy(name).catch(() => undefined);
          await storage.close();
          await proxy?.down();
          fs.rmSync(tmp, { recursive: true, force: true });
        }
      },
    );
  }
}
