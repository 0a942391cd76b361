/**
 * CLIPSeg no-grad forward: TypeScript (libtorch addon) vs PyTorch.
 *
 *   npx tsc -p <config> && node dist/bench/clipseg.js [--runs 5] [--threads 2] [--no-full]
 *
 * Both sides build the full-size CIDAS/clipseg-rd64-refined config with random weights and
 * run a 352x352, batch-2 forward with the prompts "a photo of a polyp." / "skin lesion"
 * (tokenized here, passed to Python) at 2 threads.
 *  - ts: `CLIPSegForImageSegmentation.forward` (runs the 10 vision layers the decoder reads);
 *  - ts_full: the same with `fullVision` (all 12 layers + post_layernorm, HF's amount of work);
 *  - torch: bench/clipseg_torch.py, HF 4.38.2's forward in plain torch (all 12 vision layers,
 *    every hidden state, post-LN + projection), run with /usr/bin/python3 ($TUNEVLSEG_PYTHON).
 * The Python process is started once (`--serve`) and the runs are interleaved (ts, ts_full,
 * torch, ts, ...) with a short pause between them, so background load hits every side alike.
 * Medians after one warm-up run each. The last stdout line is one JSON object:
 *   {"bench":"clipseg","ts_forward_median_s":..,"torch_forward_median_s":..,"ratio":..}
 * (ratio = ts / torch; lower is better).
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpus } from 'node:os';

import * as T from '../src/torch/index.js';
import { CLIPSegForImageSegmentation, clipsegRd64RefinedConfig } from '../src/models/clipseg/index.js';
import { ClipTokenizer } from '../src/models/clip/tokenizer.js';

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'tunevlseg') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('bench/clipseg: cannot find the tunevlseg repository root');
    dir = up;
  }
}

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} needs a positive number`);
  return v;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

class TorchServer {
  private readonly lines: AsyncIterator<string>;
  private readonly proc;
  constructor(script: string, args: string[]) {
    const py = process.env.TUNEVLSEG_PYTHON ?? '/usr/bin/python3';
    this.proc = spawn(py, [script, '--serve', ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.lines = createInterface({ input: this.proc.stdout })[Symbol.asyncIterator]();
  }
  async next(): Promise<Record<string, unknown>> {
    const r = await this.lines.next();
    if (r.done) throw new Error('bench/clipseg: the PyTorch side exited early (see its stderr above)');
    return JSON.parse(r.value) as Record<string, unknown>;
  }
  async run(): Promise<number> {
    this.proc.stdin.write('run\n');
    return (await this.next()).seconds as number;
  }
  close(): void {
    this.proc.stdin.end('quit\n');
  }
}

async function main(): Promise<void> {
  const runs = arg('runs', 5);
  const threads = arg('threads', 2);
  const full = !process.argv.includes('--no-full');
  T.setNumThreads(threads);
  const root = repoRoot();
  const tok = ClipTokenizer.fromDir(join(root, '..', 'shared', 'fixtures', 'tokenizer'));
  const enc = tok.encodeBatch(['a photo of a polyp.', 'skin lesion']);
  const [B, S] = [2, 352];

  const torch = new TorchServer(join(root, 'bench', 'clipseg_torch.py'), [
    '--threads',
    String(threads),
    '--batch',
    String(B),
    '--size',
    String(S),
    '--ids',
    JSON.stringify(enc.inputIds),
    '--mask',
    JSON.stringify(enc.attentionMask),
  ]);
  const hello = await torch.next();

  const model = T.noGrad(() => new CLIPSegForImageSegmentation(clipsegRd64RefinedConfig()));
  model.eval().requiresGrad_(false);
  const px = T.randn([B, 3, S, S]);
  const ids = T.tensor(enc.inputIds, { dtype: 'int64' });
  const mask = T.tensor(enc.attentionMask, { dtype: 'int64' });
  const tsOnce = (fullVision: boolean): number => {
    const t0 = performance.now();
    T.noGrad(() =>
      T.tidy(() => {
        const out = model.forward(px, { inputIds: ids, attentionMask: mask }, { fullVision });
        if (out.logits.size(1) !== S) throw new Error('bad logits shape');
      }),
    );
    return (performance.now() - t0) / 1000;
  };

  // warm-up
  tsOnce(false);
  if (full) tsOnce(true);
  await torch.run();

  const ts: number[] = [],
    tsFull: number[] = [],
    py: number[] = [];
  for (let r = 0; r < runs; r++) {
    await sleep(300);
    ts.push(tsOnce(false));
    if (full) {
      await sleep(300);
      tsFull.push(tsOnce(true));
    }
    await sleep(300);
    py.push(await torch.run());
  }
  torch.close();
  model.dispose();
  T.dispose([px, ids, mask]);

  const info = T.runtimeInfo();
  const tsMed = median(ts),
    pyMed = median(py);
  const fmt = (xs: number[]): string => xs.map((x) => x.toFixed(3)).join(' ');
  console.log(
    `CLIPSeg rd64-refined forward, random weights, batch ${B}, ${S}x${S}, ${threads} threads, no grad; ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'})`,
  );
  console.log(
    `libtorch ${info.libtorchVersion} (addon) vs torch ${String(hello.torch)} (python); medians of ${runs} interleaved runs after 1 warm-up`,
  );
  console.log('| side | what runs | median (s) | runs (s) |');
  console.log('|---|---|---|---|');
  console.log(`| ts | text + 10 vision layers (what the decoder reads) + decoder | ${tsMed.toFixed(3)} | ${fmt(ts)} |`);
  if (full)
    console.log(`| ts_full | text + 12 vision layers + post-LN (HF's work) + decoder | ${median(tsFull).toFixed(3)} | ${fmt(tsFull)} |`);
  console.log(`| torch | HF 4.38.2 forward in plain torch (12 layers, post-LN, projection) | ${pyMed.toFixed(3)} | ${fmt(py)} |`);
  const out: Record<string, unknown> = {
    bench: 'clipseg',
    ts_forward_median_s: tsMed,
    torch_forward_median_s: pyMed,
    ratio: tsMed / pyMed,
  };
  if (full) {
    out.ts_full_forward_median_s = median(tsFull);
    out.ratio_full = median(tsFull) / pyMed;
  }
  console.log(JSON.stringify(out));
}

main().catch((e: unknown) => {
  console.error((e as Error).stack ?? String(e));
  process.exit(1);
});
