// `tunevlseg serve <dir>`: an export's web page on http://127.0.0.1 (src/export/serve.ts), until Ctrl-C.
import type { Command } from 'commander';
import { examples, option } from './flags.js';

export function registerServeCommand(program: Command): Command {
  const cmd = program
    .command('serve <dir>')
    .description(
      "serve an export's web page (tunevlseg export --out <dir>) on 127.0.0.1 and print its URL; browsers do not run it from file://",
    );
  option(cmd, '--port <n>', 'port on 127.0.0.1 (0: any free port)', {
    default: 8000,
    parse: (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--port: expected 0..65535, got ${JSON.stringify(v)}`);
      return n;
    },
  });
  examples(cmd, ['tunevlseg serve maple-export', 'tunevlseg serve maple-export --port 0']);
  return cmd.action(async (dir: string, o: { port: number }) => {
    const { serveFolder } = await import('../export/serve.js');
    const s = await serveFolder(dir, o.port);
    console.error(`serving ${s.root} (Ctrl-C to stop); open:`);
    console.log(s.url);
    await new Promise<void>((done) => process.once('SIGINT', () => void s.close().then(done)));
  });
}
