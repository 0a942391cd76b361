/**
 * src/hub against a fake hub on 127.0.0.1 (random ports): one server plays huggingface.co
 * (`/<org>/<name>/resolve/<rev>/<file>` with X-Repo-Commit, ETag / X-Linked-Etag, X-Linked-Size,
 * a 302 to the "CDN" for LFS files, X-Error-Code on 404s), a second one plays the CDN (another
 * origin, as on the real hub). Nothing here reaches the internet.
 */
import { PassThrough } from 'node:stream';
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp, existsSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  HubError,
  HubHttpError,
  OfflineCacheMissError,
  downloadFile,
  parseRepoRef,
  resolveModelSource,
  snapshotDownload,
} from '../src/hub/index.js';
import { download as cliDownload } from '../src/cli/download.js';

const REPO = 'tiny/clipseg';
const TOKEN = 'hf_TESTTOKEN_do_not_log_1234';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const gitSha1 = (b: Buffer): string => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');

interface Seen {
  server: 'hub' | 'cdn';
  method: string;
  url: string;
  range: string | undefined;
  auth: string | undefined;
}

class FakeHub {
  readonly commit = randomBytes(20).toString('hex');
  readonly files = new Map<string, { content: Buffer; lfs: boolean }>();
  readonly renamed = new Map<string, string>();
  seen: Seen[] = [];
  /** Blob keys (file names) whose next GET is cut half-way (socket destroyed). */
  cutOnce = new Set<string>();
  /** Serve these files with one byte flipped (headers still advertise the true hash). */
  corrupt = new Set<string>();
  /** The CDN refuses every request (as with an expired signed URL). */
  cdnDeny = false;
  /** Answer Range requests with a full 200. */
  ignoreRange = false;
  /** Send bodies in this many chunks, pausing between them (widens race windows). */
  chunks = 1;
  private hub!: http.Server;
  private cdn!: http.Server;
  endpoint = '';
  cdnOrigin = '';

  constructor() {
    this.files.set('config.json', { content: Buffer.from(JSON.stringify({ model_type: 'clipseg', reduce_dim: 16 })), lfs: false });
    this.files.set('model.safetensors', { content: randomBytes(256 * 1024 + 123), lfs: true });
    this.files.set('vocab.json', { content: Buffer.from('{"a</w>": 0, "b</w>": 1}'), lfs: false });
    this.files.set('merges.txt', { content: Buffer.from('#version: 0.2\na b\n'), lfs: false });
  }

  etagOf(name: string): string {
    const f = this.files.get(name)!;
    return f.lfs ? sha256(f.content) : gitSha1(f.content);
  }

  async start(): Promise<void> {
    this.hub = http.createServer((req, res) => this.onHub(req, res));
    this.cdn = http.createServer((req, res) => this.onCdn(req, res));
    await Promise.all([listen(this.hub), listen(this.cdn)]);
    this.endpoint = `http://127.0.0.1:${(this.hub.address() as AddressInfo).port}`;
    this.cdnOrigin = `http://127.0.0.1:${(this.cdn.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const s of [this.hub, this.cdn]) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  }

  gets(server: 'hub' | 'cdn', fragment: string): Seen[] {
    return this.seen.filter((s) => s.server === server && s.method === 'GET' && s.url.includes(fragment));
  }

  private record(server: 'hub' | 'cdn', req: http.IncomingMessage): void {
    this.seen.push({
      server,
      method: req.method ?? '',
      url: req.url ?? '',
      range: req.headers.range,
      auth: req.headers.authorization,
    });
  }

  private onHub(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.record('hub', req);
    const m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(req.url ?? '');
    if (m === null) return notFound(res, 'RepoNotFound', 'bad url');
    const repo = m[1]!;
    const rev = decodeURIComponent(m[2]!);
    const file = m[3]!.split('/').map(decodeURIComponent).join('/');
    const newName = this.renamed.get(repo);
    if (newName !== undefined) {
      res.writeHead(307, { location: `/${newName}/resolve/${m[2]}/${m[3]}` });
      return void res.end();
    }
    if (repo !== REPO) return notFound(res, 'RepoNotFound', 'Repository not found');
    if (rev !== 'main' && rev !== this.commit) return notFound(res, 'RevisionNotFound', 'Invalid rev id');
    const f = this.files.get(file);
    if (f === undefined) return notFound(res, 'EntryNotFound', 'Entry not found');
    const common = { 'x-repo-commit': this.commit, 'accept-ranges': 'bytes' };
    if (f.lfs) {
      const body = 'Found. Redirecting';
      res.writeHead(302, {
        ...common,
        location: `${this.cdnOrigin}/repos/xx/${this.etagOf(file)}?X-Amz-Signature=secret-signature&name=${file}`,
        'x-linked-etag': `"${this.etagOf(file)}"`,
        'x-linked-size': String(f.content.length),
        etag: 'W/"redirect-etag"',
        'content-length': String(body.length),
      });
      return void res.end(req.method === 'HEAD' ? undefined : body);
    }
    this.serve(req, res, file, f.content, { ...common, etag: `"${this.etagOf(file)}"` });
  }

  private onCdn(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.record('cdn', req);
    const url = new URL(req.url ?? '/', this.cdnOrigin);
    const name = url.searchParams.get('name') ?? '';
    const f = this.files.get(name);
    if (f === undefined || !url.pathname.endsWith(this.etagOf(name)) || this.cdnDeny) {
      res.writeHead(403);
      return void res.end('AccessDenied');
    }
    this.serve(req, res, name, f.content, { etag: `"${sha256(f.content).slice(0, 32)}"` });
  }

  private serve(req: http.IncomingMessage, res: http.ServerResponse, name: string, content: Buffer, headers: Record<string, string>): void {
    let body = content;
    if (this.corrupt.has(name)) {
      body = Buffer.from(content);
      body[body.length >> 1]! ^= 0xff;
    }
    let status = 200;
    const h: Record<string, string> = { ...headers, 'content-type': 'application/octet-stream' };
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range !== null && !this.ignoreRange) {
      const start = Number(range[1]);
      if (start >= body.length) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` });
        return void res.end();
      }
      status = 206;
      h['content-range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
      body = body.subarray(start);
    }
    h['content-length'] = String(body.length);
    res.writeHead(status, h);
    if (req.method === 'HEAD') return void res.end();
    if (req.method === 'GET' && this.cutOnce.delete(name)) {
      // Send half, then drop the connection (the client sees a truncated body).
      // (A pause first, so the client has read the half before it sees the reset.)
      res.write(body.subarray(0, body.length >> 1), () => setTimeout(() => res.socket?.destroy(), 30));
      return;
    }
    void this.sendChunked(res, body);
  }

  private async sendChunked(res: http.ServerResponse, body: Buffer): Promise<void> {
    const n = Math.max(1, this.chunks);
    const step = Math.ceil(body.length / n);
    for (let i = 0; i < body.length; i += step) {
      if (res.destroyed) return;
      res.write(body.subarray(i, i + step));
      if (n > 1) await sleep(15);
    }
    res.end();
  }
}

function notFound(res: http.ServerResponse, code: string, message: string): void {
  res.writeHead(404, { 'x-error-code': code, 'x-error-message': message, 'content-type': 'text/plain' });
  res.end(message);
}

function listen(s: http.Server): Promise<void> {
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
}

/** A port on 127.0.0.1 with nothing listening. */
async function closedPort(): Promise<number> {
  const s = http.createServer();
  await listen(s);
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function listFiles(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of await fsp.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isDirectory()) out.push(path.relative(dir, path.join(e.parentPath, e.name)));
  }
  return out.sort();
}

/** Every blob in the cache is named by its own hash: nothing corrupt, nothing partial. */
async function assertBlobsValid(cache: string): Promise<string[]> {
  const blobsDir = path.join(cache, 'models--tiny--clipseg', 'blobs');
  const names = await listFiles(blobsDir);
  for (const name of names) {
    assert.doesNotMatch(name, /incomplete|tmp/, `leftover partial file ${name}`);
    const bytes = await fsp.readFile(path.join(blobsDir, name));
    const actual = name.length === 64 ? sha256(bytes) : gitSha1(bytes);
    assert.equal(actual, name, `blob ${name} does not match its hash`);
  }
  return names;
}

let hub: FakeHub;
let cache: string;
const tmpRoot = path.join(os.tmpdir(), `tunevlseg-hub-test-${process.pid}`);

before(async () => {
  for (const k of ['HF_TOKEN', 'HF_HUB_OFFLINE', 'TUNEVLSEG_OFFLINE', 'HF_ENDPOINT']) delete process.env[k];
  // Whatever a test forgets to pass, it never touches the real cache.
  process.env['TUNEVLSEG_CACHE'] = path.join(tmpRoot, 'default-cache');
  await fsp.mkdir(tmpRoot, { recursive: true });
});

after(async () => {
  await fsp.rm(tmpRoot, { recursive: true, force: true });
});

beforeEach(async () => {
  hub = new FakeHub();
  await hub.start();
  cache = await fsp.mkdtemp(path.join(tmpRoot, 'cache-'));
});

/** Stop the per-test server even when the test fails. */
async function withHub<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } finally {
    await hub.stop();
  }
}

test('snapshotDownload fills blobs/, snapshots/<commit>/ and refs/main; optional 404s are skipped', () =>
  withHub(async () => {
    const skipped: string[] = [];
    const progress = new Map<string, number>();
    const dir = await snapshotDownload({
      repo: REPO,
      files: 'default',
      cacheDir: cache,
      endpoint: hub.endpoint,
      token: TOKEN,
      onSkip: (f) => skipped.push(f),
      onProgress: (p) => progress.set(p.filename, p.downloaded),
    });
    const repoDir = path.join(cache, 'models--tiny--clipseg');
    assert.equal(dir, path.join(repoDir, 'snapshots', hub.commit));
    assert.deepEqual(skipped.sort(), ['preprocessor_config.json', 'special_tokens_map.json', 'tokenizer_config.json']);
    for (const [name, f] of hub.files) {
      const p = path.join(dir, name);
      assert.deepEqual(await fsp.readFile(p), f.content, name);
      assert.equal(await fsp.readlink(p), `../../blobs/${hub.etagOf(name)}`);
      assert.equal(progress.get(name), f.content.length);
    }
    assert.equal((await fsp.readFile(path.join(repoDir, 'refs', 'main'), 'utf8')).trim(), hub.commit);
    const blobs = await assertBlobsValid(cache);
    assert.deepEqual(blobs, [...hub.files.keys()].map((n) => hub.etagOf(n)).sort());
    assert.deepEqual(await listFiles(path.join(cache, '.locks')), [], 'locks released');
    // The token went to the hub, never to the CDN; the LFS metadata came from the 302 itself.
    assert.ok(hub.seen.filter((s) => s.server === 'hub').every((s) => s.auth === `Bearer ${TOKEN}`));
    const cdnSeen = hub.seen.filter((s) => s.server === 'cdn');
    assert.ok(cdnSeen.length > 0);
    assert.ok(cdnSeen.every((s) => s.auth === undefined && s.method === 'GET'));

    // Second time: metadata only, no bytes move.
    hub.seen = [];
    const again = await snapshotDownload({ repo: REPO, cacheDir: cache, endpoint: hub.endpoint });
    assert.equal(again, dir);
    assert.equal(hub.seen.filter((s) => s.method === 'GET').length, 0);
    // By commit hash: the snapshot is immutable, so no request at all.
    hub.seen = [];
    const byCommit = await downloadFile({
      repo: REPO,
      filename: 'model.safetensors',
      revision: hub.commit,
      cacheDir: cache,
      endpoint: hub.endpoint,
    });
    assert.equal(byCommit, path.join(dir, 'model.safetensors'));
    assert.equal(hub.seen.length, 0);
  }));

test('a cut connection leaves a partial that the next call resumes with a Range request', () =>
  withHub(async () => {
    const model = hub.files.get('model.safetensors')!.content;
    const blob = path.join(cache, 'models--tiny--clipseg', 'blobs', hub.etagOf('model.safetensors'));
    hub.cutOnce.add('model.safetensors');
    const opts = { repo: REPO, filename: 'model.safetensors', cacheDir: cache, endpoint: hub.endpoint, retries: 0 };
    await assert.rejects(downloadFile(opts), (e: unknown) => {
      assert.ok(e instanceof HubError);
      assert.equal(e.code, 'NETWORK');
      assert.match(e.message, /model\.safetensors.*tiny\/clipseg@main/);
      assert.match(e.message, /resume/);
      return true;
    });
    const partial = (await fsp.stat(`${blob}.incomplete`)).size;
    assert.ok(partial > 0 && partial < model.length, `partial size ${partial}`);
    assert.equal(existsSync(blob), false);
    assert.deepEqual(await listFiles(path.join(cache, '.locks')), []);

    const resumes: number[] = [];
    const p = await downloadFile({ ...opts, onProgress: (ev) => void (ev.resumedFrom > 0 && resumes.push(ev.resumedFrom)) });
    assert.deepEqual(await fsp.readFile(p), model);
    const gets = hub.gets('cdn', hub.etagOf('model.safetensors'));
    assert.equal(gets.length, 2);
    assert.equal(gets[0]!.range, undefined);
    assert.equal(gets[1]!.range, `bytes=${partial}-`);
    assert.equal(resumes[0], partial);
    assert.equal(existsSync(`${blob}.incomplete`), false);
    await assertBlobsValid(cache);
  }));

test('within one call, a dropped connection is retried from where it stopped', () =>
  withHub(async () => {
    hub.cutOnce.add('vocab.json');
    const p = await downloadFile({ repo: REPO, filename: 'vocab.json', cacheDir: cache, endpoint: hub.endpoint });
    assert.deepEqual(await fsp.readFile(p), hub.files.get('vocab.json')!.content);
    const gets = hub.gets('hub', 'vocab.json');
    assert.equal(gets.length, 2);
    assert.match(gets[1]!.range ?? '', /^bytes=\d+-$/);
    await assertBlobsValid(cache);
  }));

test('a server that ignores Range (200 instead of 206) makes the download start over, correctly', () =>
  withHub(async () => {
    hub.cutOnce.add('model.safetensors');
    hub.ignoreRange = true;
    const opts = { repo: REPO, filename: 'model.safetensors', cacheDir: cache, endpoint: hub.endpoint, retries: 0 };
    await assert.rejects(downloadFile(opts), /connection lost/);
    const p = await downloadFile(opts);
    assert.match(hub.gets('cdn', 'model')[1]!.range ?? '', /^bytes=\d+-$/);
    assert.deepEqual(await fsp.readFile(p), hub.files.get('model.safetensors')!.content);
    await assertBlobsValid(cache);
  }));

test('a hash mismatch is rejected and leaves nothing corrupt in the cache', () =>
  withHub(async () => {
    hub.corrupt.add('model.safetensors');
    hub.corrupt.add('config.json');
    for (const filename of ['model.safetensors', 'config.json']) {
      await assert.rejects(downloadFile({ repo: REPO, filename, cacheDir: cache, endpoint: hub.endpoint }), (e: unknown) => {
        assert.ok(e instanceof HubError);
        assert.equal(e.code, 'HASH_MISMATCH');
        assert.ok(e.message.includes(filename) && e.message.includes(hub.etagOf(filename)), e.message);
        return true;
      });
    }
    const repoDir = path.join(cache, 'models--tiny--clipseg');
    assert.deepEqual(await listFiles(path.join(repoDir, 'blobs')), [], 'no blob, no partial');
    assert.deepEqual(await listFiles(path.join(repoDir, 'snapshots')), []);
    assert.deepEqual(await listFiles(path.join(cache, '.locks')), []);
    // Once the bytes are right again, the same cache downloads fine.
    hub.corrupt.clear();
    const p = await downloadFile({ repo: REPO, filename: 'model.safetensors', cacheDir: cache, endpoint: hub.endpoint });
    assert.deepEqual(await fsp.readFile(p), hub.files.get('model.safetensors')!.content);
    await assertBlobsValid(cache);
  }));

test('offline with the file missing: the error names repo, revision, file, cache folder and the download command', () =>
  withHub(async () => {
    await assert.rejects(
      downloadFile({ repo: REPO, filename: 'model.safetensors', revision: 'v1.0', cacheDir: cache, offline: true }),
      (e: unknown) => {
        assert.ok(e instanceof OfflineCacheMissError);
        for (const part of [
          '"model.safetensors"',
          'tiny/clipseg@v1.0',
          path.join(cache, 'models--tiny--clipseg'),
          'tunevlseg download tiny/clipseg --revision v1.0',
          'refs/v1.0',
        ]) {
          assert.ok(e.message.includes(part), `${JSON.stringify(part)} missing from: ${e.message}`);
        }
        return true;
      },
    );
    // $HF_HUB_OFFLINE=1 works the same, and nothing is requested.
    process.env['HF_HUB_OFFLINE'] = '1';
    try {
      await assert.rejects(
        snapshotDownload({ repo: REPO, cacheDir: cache, endpoint: hub.endpoint }),
        /"config\.json" of tiny\/clipseg@main is not in the cache.*`tunevlseg download tiny\/clipseg`/,
      );
    } finally {
      delete process.env['HF_HUB_OFFLINE'];
    }
    assert.equal(hub.seen.length, 0);
  }));

test('download itself, unable to reach the hub: the error says how to work offline (a local folder, a copied cache, HF_ENDPOINT), not "run download"', () =>
  withHub(async () => {
    const deadEndpoint = `http://127.0.0.1:${await closedPort()}`;
    const sink = new PassThrough();
    await assert.rejects(
      cliDownload(REPO, { cacheDir: cache, endpoint: deadEndpoint, retries: 0, stdout: sink, stderr: sink }),
      (e: unknown) => {
        assert.ok(e instanceof OfflineCacheMissError);
        for (const part of [
          '"config.json" of tiny/clipseg@main is not in the cache',
          'To work without network',
          '--model <folder with config.json + model.safetensors>',
          path.join(cache, 'models--tiny--clipseg'),
          '$TUNEVLSEG_CACHE',
          `$HF_ENDPOINT at a hub mirror you can reach (now ${deadEndpoint})`,
        ]) {
          assert.ok(e.message.includes(part), `${JSON.stringify(part)} missing from: ${e.message}`);
        }
        assert.ok(!e.message.includes('With network access'), e.message);
        return true;
      },
    );
  }));

test('offline with the files cached works with no server at all', async () => {
  const dir = await withHub(() => snapshotDownload({ repo: REPO, cacheDir: cache, endpoint: hub.endpoint }));
  const deadEndpoint = `http://127.0.0.1:${await closedPort()}`;
  assert.equal(await snapshotDownload({ repo: REPO, cacheDir: cache, endpoint: deadEndpoint, offline: true }), dir);
  assert.equal(
    await downloadFile({ repo: REPO, filename: 'vocab.json', cacheDir: cache, endpoint: deadEndpoint, offline: true }),
    path.join(dir, 'vocab.json'),
  );
  process.env['TUNEVLSEG_OFFLINE'] = 'true';
  try {
    assert.equal(await resolveModelSource(`${REPO}@main`, { cacheDir: cache, endpoint: deadEndpoint }), dir);
  } finally {
    delete process.env['TUNEVLSEG_OFFLINE'];
  }
  // Not offline but the hub is unreachable: the cache is used too ...
  assert.equal(await snapshotDownload({ repo: REPO, cacheDir: cache, endpoint: deadEndpoint }), dir);
  // ... and a file that is not cached gives an error saying both things.
  await assert.rejects(
    downloadFile({ repo: REPO, filename: 'other.bin', cacheDir: cache, endpoint: deadEndpoint }),
    (e: unknown) => e instanceof OfflineCacheMissError && /could not be reached/.test(e.message) && /other\.bin/.test(e.message),
  );
});

test('concurrent downloads of one file in one process leave one valid blob and fetch it once', () =>
  withHub(async () => {
    hub.chunks = 8;
    const opts = { repo: REPO, filename: 'model.safetensors', cacheDir: cache, endpoint: hub.endpoint };
    const paths = await Promise.all([downloadFile(opts), downloadFile(opts), downloadFile(opts), downloadFile(opts)]);
    assert.equal(new Set(paths).size, 1);
    assert.deepEqual(await fsp.readFile(paths[0]!), hub.files.get('model.safetensors')!.content);
    assert.equal(hub.gets('cdn', 'model').length, 1);
    assert.deepEqual(await assertBlobsValid(cache), [hub.etagOf('model.safetensors')]);
    assert.deepEqual(await listFiles(path.join(cache, '.locks')), []);
  }));

test('two processes downloading the same file leave one valid blob', () =>
  withHub(async () => {
    hub.chunks = 20;
    const modUrl = new URL('../src/hub/index.js', import.meta.url).href;
    const opts = { repo: REPO, filename: 'model.safetensors', cacheDir: cache, endpoint: hub.endpoint };
    const script =
      'const { downloadFile } = await import(process.argv[1]);' + 'process.stdout.write(await downloadFile(JSON.parse(process.argv[2])));';
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, modUrl, JSON.stringify(opts)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    // Start ours once the child is streaming the blob (slowly), so the two really overlap.
    while (hub.gets('cdn', 'model').length === 0) {
      assert.equal(child.exitCode, null, `child exited early: ${err}`);
      await sleep(5);
    }
    const mine = await downloadFile(opts);
    assert.equal(await exited, 0, err);
    assert.equal(out, mine);
    assert.deepEqual(await fsp.readFile(mine), hub.files.get('model.safetensors')!.content);
    assert.equal(hub.gets('cdn', 'model').length, 1, 'the blob was fetched once');
    assert.deepEqual(await assertBlobsValid(cache), [hub.etagOf('model.safetensors')]);
    assert.deepEqual(await listFiles(path.join(cache, '.locks')), []);
  }));

test('a lock left by a dead process, or not touched for too long, is broken', () =>
  withHub(async () => {
    const dead = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => dead.on('close', r));
    const locks = path.join(cache, '.locks', 'models--tiny--clipseg');
    await fsp.mkdir(locks, { recursive: true });
    const lock1 = path.join(locks, `${hub.etagOf('config.json')}.lock`);
    await fsp.writeFile(lock1, JSON.stringify({ pid: dead.pid, host: os.hostname(), token: 'x' }));
    const lock2 = path.join(locks, `${hub.etagOf('vocab.json')}.lock`);
    await fsp.writeFile(lock2, JSON.stringify({ pid: 1, host: 'some-other-host', token: 'y' }));
    const old = new Date(Date.now() - 60_000);
    await fsp.utimes(lock2, old, old);
    const base = { repo: REPO, cacheDir: cache, endpoint: hub.endpoint, lockTimeoutMs: 5_000, lockStaleMs: 30_000 };
    await downloadFile({ ...base, filename: 'config.json' });
    await downloadFile({ ...base, filename: 'vocab.json' });
    assert.deepEqual(await listFiles(locks), []);
    await assertBlobsValid(cache);
  }));

test('a 404 on a required file gives an error naming the file; the token never appears in errors', () =>
  withHub(async () => {
    hub.files.delete('model.safetensors');
    await assert.rejects(snapshotDownload({ repo: REPO, cacheDir: cache, endpoint: hub.endpoint, token: TOKEN }), (e: unknown) => {
      assert.ok(e instanceof HubHttpError);
      assert.equal(e.code, 'ENTRY_NOT_FOUND');
      assert.equal(e.status, 404);
      assert.match(e.message, /file "model\.safetensors" not found in tiny\/clipseg@main/);
      assert.ok(!e.message.includes(TOKEN));
      return true;
    });
    await assert.rejects(
      snapshotDownload({ repo: REPO, files: ['config.json', 'extra.bin'], cacheDir: cache, endpoint: hub.endpoint }),
      /"extra\.bin" not found/,
    );
    await assert.rejects(
      downloadFile({ repo: 'tiny/nope', filename: 'config.json', cacheDir: cache, endpoint: hub.endpoint, token: TOKEN }),
      (e: unknown) => e instanceof HubHttpError && e.code === 'REPO_NOT_FOUND' && !e.message.includes(TOKEN),
    );
    await assert.rejects(
      downloadFile({ repo: REPO, filename: 'config.json', revision: 'nobranch', cacheDir: cache, endpoint: hub.endpoint }),
      (e: unknown) => e instanceof HubHttpError && e.code === 'REVISION_NOT_FOUND' && /nobranch/.test(e.message),
    );
    // A CDN refusal: the signed query string of the redirect is not echoed.
    hub.files.set('model.safetensors', { content: randomBytes(1000), lfs: true });
    hub.cdnDeny = true;
    await assert.rejects(
      downloadFile({ repo: REPO, filename: 'model.safetensors', cacheDir: cache, endpoint: hub.endpoint, token: TOKEN }),
      (e: unknown) => {
        assert.ok(e instanceof HubHttpError && e.status === 403, String(e));
        assert.match(e.message, /"model\.safetensors" of tiny\/clipseg@main/);
        assert.ok(!e.message.includes('secret-signature') && !e.message.includes(TOKEN), e.message);
        return true;
      },
    );
  }));

test('a renamed repo (relative redirect on HEAD) is followed', () =>
  withHub(async () => {
    hub.renamed.set('old/clipseg', REPO);
    const p = await downloadFile({ repo: 'old/clipseg', filename: 'model.safetensors', cacheDir: cache, endpoint: hub.endpoint });
    assert.equal(p, path.join(cache, 'models--old--clipseg', 'snapshots', hub.commit, 'model.safetensors'));
    assert.deepEqual(await fsp.readFile(p), hub.files.get('model.safetensors')!.content);
  }));

test('bad arguments are refused before any request', () =>
  withHub(async () => {
    const base = { repo: REPO, cacheDir: cache, endpoint: hub.endpoint };
    for (const filename of ['../escape.json', '/etc/passwd', 'a//b', 'a\\b', '']) {
      await assert.rejects(downloadFile({ ...base, filename }), (e: unknown) => e instanceof HubError && e.code === 'INVALID_ARGUMENT');
    }
    for (const repo of ['a/b/c', 'a--b/c', '../x', 'x/..', '']) {
      await assert.rejects(downloadFile({ ...base, repo, filename: 'config.json' }), /invalid Hugging Face repo id/);
    }
    await assert.rejects(downloadFile({ ...base, filename: 'config.json', revision: '../../x' }), /invalid revision/);
    assert.equal(hub.seen.length, 0);
  }));

test('resolveModelSource: local folder, repo id with revision, and clear errors otherwise', () =>
  withHub(async () => {
    const local = await fsp.mkdtemp(path.join(tmpRoot, 'local-model-'));
    assert.equal(await resolveModelSource(local, { cacheDir: cache, endpoint: hub.endpoint }), local);
    const dir = await resolveModelSource(`${REPO}@main`, { cacheDir: cache, endpoint: hub.endpoint });
    assert.equal(dir, path.join(cache, 'models--tiny--clipseg', 'snapshots', hub.commit));
    assert.ok(existsSync(path.join(dir, 'model.safetensors')));
    assert.equal(await resolveModelSource(`${REPO}@${hub.commit}`, { cacheDir: cache, endpoint: hub.endpoint }), dir);
    const seen = hub.seen.length;
    for (const bad of ['not a model', './missing/folder', '/no/such/dir', 'a/b/c']) {
      await assert.rejects(resolveModelSource(bad, { cacheDir: cache, endpoint: hub.endpoint }), (e: unknown) => {
        assert.ok(e instanceof HubError && e.code === 'INVALID_ARGUMENT');
        assert.match(e.message, /neither an existing folder.*nor a Hugging Face repo id/);
        return true;
      });
    }
    const file = path.join(local, 'config.json');
    await fsp.writeFile(file, '{}');
    await assert.rejects(resolveModelSource(file, { cacheDir: cache }), /is a file/);
    assert.equal(hub.seen.length, seen);
    assert.deepEqual(parseRepoRef('CIDAS/clipseg-rd64-refined@refs/pr/1'), { repo: 'CIDAS/clipseg-rd64-refined', revision: 'refs/pr/1' });
    assert.equal(parseRepoRef('CIDAS'), undefined);
  }));

test('download (the command) prints the snapshot path; progress unless quiet', () =>
  withHub(async () => {
    const sink = (): NodeJS.WritableStream & { text: string } => {
      const s = {
        text: '',
        write(c: string | Uint8Array): boolean {
          s.text += String(c);
          return true;
        },
      };
      return s as unknown as NodeJS.WritableStream & { text: string };
    };
    const out = sink();
    const err = sink();
    const dir = await cliDownload(`${REPO}`, { revision: 'main', cacheDir: cache, endpoint: hub.endpoint, stdout: out, stderr: err });
    assert.equal(out.text, `${dir}\n`);
    assert.match(err.text, /model\.safetensors\s+262\.\d+ kB\s+downloaded/);
    assert.match(err.text, /skipped tokenizer_config\.json/);
    const out2 = sink();
    const err2 = sink();
    assert.equal(
      await cliDownload(`${REPO}@main`, { quiet: true, cacheDir: cache, endpoint: hub.endpoint, stdout: out2, stderr: err2 }),
      dir,
    );
    assert.equal(out2.text, `${dir}\n`);
    assert.equal(err2.text, '');
    await assert.rejects(cliDownload(`${REPO}@main`, { revision: 'dev', cacheDir: cache, stdout: out2 }), /two revisions/);
  }));

test('download (the command) draws a cli-progress bar per file on a terminal', () =>
  withHub(async () => {
    const tty = {
      text: '',
      isTTY: true,
      columns: 120,
      write(c: string | Uint8Array): boolean {
        tty.text += String(c);
        return true;
      },
    };
    const out = {
      text: '',
      write(c: string | Uint8Array): boolean {
        out.text += String(c);
        return true;
      },
    };
    const dir = await cliDownload(REPO, {
      cacheDir: cache,
      endpoint: hub.endpoint,
      stdout: out as unknown as NodeJS.WritableStream,
      stderr: tty as unknown as NodeJS.WritableStream & { isTTY: boolean },
    });
    assert.equal(out.text, `${dir}\n`);
    for (const f of hub.files.keys()) assert.match(tty.text, new RegExp(`${f.replace('.', '\\.')}\\s*\\|[^|]*\\| 100%`));
    assert.match(tty.text, /skipped preprocessor_config\.json/);
  }));

test('defaults come from $HF_ENDPOINT, $TUNEVLSEG_CACHE and $HF_TOKEN (token: false sends none)', () =>
  withHub(async () => {
    const saved = { ...process.env };
    process.env['HF_ENDPOINT'] = `${hub.endpoint}/`;
    process.env['TUNEVLSEG_CACHE'] = cache;
    process.env['HF_TOKEN'] = TOKEN;
    try {
      const p = await downloadFile({ repo: REPO, filename: 'config.json' });
      assert.equal(p, path.join(cache, 'models--tiny--clipseg', 'snapshots', hub.commit, 'config.json'));
      assert.equal(hub.seen[0]!.auth, `Bearer ${TOKEN}`);
      hub.seen = [];
      await downloadFile({ repo: REPO, filename: 'vocab.json', token: false });
      assert.ok(hub.seen.length > 0 && hub.seen.every((s) => s.auth === undefined));
    } finally {
      for (const k of ['HF_ENDPOINT', 'TUNEVLSEG_CACHE', 'HF_TOKEN']) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  }));
