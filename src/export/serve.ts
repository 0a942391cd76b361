/**
 * `tunevlseg serve <dir>`: the export's web page over http on the loopback interface. Browsers
 * refuse a page opened from disk (file://) its module scripts, its fetch of model.onnx and
 * onnxruntime's WASM, so the page needs a server; this is the smallest one that serves it right
 * (WASM and module MIME types), reading only files inside the folder, only on 127.0.0.1.
 */
import { createReadStream, existsSync, realpathSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.onnx': 'application/octet-stream',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.css': 'text/css',
};

export interface Served {
  /** The folder served (an export's web/). */
  root: string;
  /** http://127.0.0.1:<port>/ */
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** The folder to serve for `dir`: an export folder's web/, or a folder holding index.html itself. */
export function webRootOf(dir: string): string {
  const d = resolve(dir);
  if (existsSync(join(d, 'web', 'index.html'))) return join(d, 'web');
  if (existsSync(join(d, 'index.html'))) return d;
  throw new Error(`${dir}: no web/index.html or index.html there (give the folder \`tunevlseg export --out\` wrote, or its web/ folder)`);
}

/** The file a request path names inside `root` (a real path; symlinks resolved and confined), or null. */
function fileFor(root: string, urlPath: string): string | null {
  let rel: string;
  try {
    rel = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  rel = rel.replace(/^\/+/, '');
  let file = resolve(root, rel || 'index.html');
  if (file !== root && !file.startsWith(root + sep)) return null;
  if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
  if (!existsSync(file)) return null;
  const real = realpathSync(file);
  return real.startsWith(root + sep) && statSync(real).isFile() ? real : null;
}

/** Serves `dir` (see webRootOf) on 127.0.0.1:`port` (0: any free port) until `close()`. */
export async function serveFolder(dir: string, port = 8000): Promise<Served> {
  const root = realpathSync(webRootOf(dir));
  const server = createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const file = fileFor(root, new URL(req.url ?? '/', 'http://localhost').pathname);
    if (file === null) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': statSync(file).size,
      'cache-control': 'no-store',
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      fail(e.code === 'EADDRINUSE' ? new Error(`port ${port} on 127.0.0.1 is in use: give another with --port <n> (0: any free port)`) : e),
    );
    server.listen(port, '127.0.0.1', () => ok());
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return {
    root,
    url,
    server,
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections(); // idle keep-alive sockets would hold close() open
      }),
  };
}
