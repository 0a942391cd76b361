// Issue 22, `download` against a hostile server (a local one on 127.0.0.1): a body that stalls
// after 300 bytes, headers that never come, a declared size of 10^15 bytes, a stream without a
// size that never ends, and an ETag that is not a hash. Each case: a bounded time, the exit code
// or error naming the file, and nothing corrupt (or huge) left in the cache.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { HubError, downloadFile } from '../../src/hub/index.js';
import { tvsStart } from './cli-harness.js';

const COMMIT = 'a'.repeat(40);
const body = Buffer.alloc(5000, 7);
const sha = createHash('sha256').update(body).digest('hex');

interface FileSpec {
  etag: string;
  size?: number;
  get: 'normal' | 'stall' | 'no-headers' | 'endless';
}
const FILES: Record<string, FileSpec> = {
  'stall.bin': { etag: sha, size: body.length, get: 'stall' },
  'silent.bin': { etag: sha, size: body.length, get: 'no-headers' },
  'huge.bin': { etag: sha, size: 1e15, get: 'normal' },
  'endless.bin': { etag: sha, get: 'endless' },
  'unhashed.bin': { etag: 'v2-build-17', size: body.length, get: 'normal' },
  'ok.bin': { etag: sha, size: body.length, get: 'normal' },
};

let server: http.Server;
let endpoint = '';
let tmp = '';
const gets: string[] = [];
const open = new Set<http.ServerResponse>();

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'tvs-hostile-download-'));
  server = http.createServer((req, res) => {
    const m = /^\/org\/model\/resolve\/[^/]+\/(.+)$/.exec(req.url ?? '');
    const spec = m ? FILES[m[1]!] : undefined;
    if (!spec) {
      res.writeHead(404, { 'x-error-code': 'EntryNotFound' });
      return void res.end();
    }
    const headers: Record<string, string> = { 'x-repo-commit': COMMIT, etag: `"${spec.etag}"` };
    if (spec.size !== undefined) headers['content-length'] = String(spec.size);
    if (req.method === 'HEAD') {
      res.writeHead(200, headers);
      return void res.end();
    }
    gets.push(m![1]!);
    open.add(res);
    res.on('close', () => open.delete(res));
    if (spec.get === 'no-headers') return; // accepts, never answers
    if (spec.get === 'endless') {
      res.writeHead(200, { 'x-repo-commit': COMMIT });
      const t = setInterval(() => res.write(Buffer.alloc(256, 1)), 2);
      res.on('close', () => clearInterval(t));
      return;
    }
    res.writeHead(200, headers);
    if (spec.get === 'stall') return void res.write(body.subarray(0, 300)); // ... and nothing more
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  for (const r of open) r.destroy();
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(tmp, { recursive: true, force: true });
});

const cache = (name: string): string => path.join(tmp, name);
const blobs = (dir: string): string[] => {
  const b = path.join(cache(dir), 'models--org--model', 'blobs');
  return existsSync(b) ? readdirSync(b) : [];
};
const opts = (dir: string) => ({ repo: 'org/model', cacheDir: cache(dir), endpoint, token: false as const, retries: 0 });

test('a body that stalls after 300 bytes fails after the read timeout, naming the file; the partial is kept for a resume', async () => {
  const t0 = Date.now();
  await assert.rejects(downloadFile({ ...opts('stall'), filename: 'stall.bin', readTimeoutMs: 500 }), (e: unknown) => {
    assert.ok(e instanceof HubError && e.code === 'NETWORK', String(e));
    assert.match((e as Error).message, /"stall\.bin" of org\/model@main.*no data for 0\.5 s \(read timeout\)/);
    return true;
  });
  assert.ok(Date.now() - t0 < 20_000, 'bounded');
  assert.deepEqual(blobs('stall'), [`${sha}.incomplete`], 'no finished blob; the 300 bytes stay for the next attempt to resume');
});

test('a server that accepts and never answers fails after the connect timeout', async () => {
  await assert.rejects(
    downloadFile({ ...opts('silent'), filename: 'silent.bin', connectTimeoutMs: 500 }),
    /"silent\.bin" of org\/model@main: no response within 0\.5 s \(connect timeout\)/,
  );
});

test('a declared size of 10^15 bytes is refused before any byte is fetched (CLI); --max-bytes lowers the cap', async () => {
  const run = async (file: string, extra: string[] = []) =>
    tvsStart(['download', 'org/model', '--files', file, '--cache-dir', cache('huge'), '-q', ...extra]);
  const env = { HF_ENDPOINT: endpoint };
  Object.assign(process.env, env);
  try {
    const r = await (await run('huge.bin')).done;
    assert.equal(r.status, 1, r.all);
    assert.match(
      r.stderr,
      /"huge\.bin" of org\/model@main: the hub states 1000000000000000 bytes, more than the largest download allowed \(10737418240 bytes/,
    );
    const capped = await (await run('ok.bin', ['--max-bytes', '1k'])).done;
    assert.equal(capped.status, 1, capped.all);
    assert.match(
      capped.stderr,
      /"ok\.bin" of org\/model@main: the hub states 5000 bytes, more than the largest download allowed \(1000 bytes/,
    );
    assert.ok(!gets.includes('huge.bin') && !gets.includes('ok.bin'), 'no GET was sent');
    assert.deepEqual(blobs('huge'), []);
  } finally {
    delete process.env.HF_ENDPOINT;
  }
});

test('a stream with no stated size is cut at the maximum and deleted', async () => {
  await assert.rejects(downloadFile({ ...opts('endless'), filename: 'endless.bin', maxBytes: 64 * 1024 }), (e: unknown) => {
    assert.ok(e instanceof HubError && e.code === 'TOO_LARGE', String(e));
    assert.match(
      (e as Error).message,
      /"endless\.bin" of org\/model@main: the server sent more than the largest download allowed \(65536 bytes/,
    );
    return true;
  });
  assert.deepEqual(blobs('endless'), []);
});

test('an ETag that is not a hash: the file is stored, with a warning that it could not be verified (CLI)', async () => {
  process.env.HF_ENDPOINT = endpoint;
  try {
    const r = await tvsStart(['download', 'org/model', '--files', 'unhashed.bin', '--cache-dir', cache('unhashed'), '-q']).done;
    assert.equal(r.status, 0, r.all);
    assert.match(
      r.stderr,
      /warning: "unhashed\.bin" of org\/model@main: not verified: the hub's ETag "v2-build-17" is neither a sha256 \(X-Linked-Etag\) nor a git blob id/,
    );
    const ok = await tvsStart(['download', 'org/model', '--files', 'ok.bin', '--cache-dir', cache('unhashed'), '-q']).done;
    assert.equal(ok.status, 0, ok.all);
    assert.doesNotMatch(ok.stderr, /warning/, 'a file verified by its sha256 gets no warning');
  } finally {
    delete process.env.HF_ENDPOINT;
  }
});
