// The CLI loads libtorch only when a command runs a model (issue 26): `--help`, `doctor` and the
// data commands work with no addon at all, and no CLI module reaches src/torch/native.ts (which
// loads the addon on import) through its top-level imports. `--help` and an unknown command load
// every command's module, so the rule holds for every module of src/cli, not only the light ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { repoRoot } from './helpers.js';

const dist = path.join(repoRoot(), 'dist', 'src');
const main = path.join(dist, 'cli', 'main.js');
const native = path.join(dist, 'torch', 'native.js');

/** Top-level (static) relative imports and re-exports of a compiled module: what loads with it. Type-only imports are gone from the JS. */
function staticImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s+(?:[^'";]*?\s+from\s+)?['"](\.{1,2}\/[^'"]+)['"]/gm))
    out.push(path.resolve(path.dirname(file), m[1]!));
  return out;
}

/** The chain of static imports from `from` to `to`, or null. */
function chainTo(from: string, to: string): string[] | null {
  const parent = new Map<string, string | null>([[from, null]]);
  const queue = [from];
  while (queue.length > 0) {
    const f = queue.shift()!;
    if (f === to) {
      const chain: string[] = [];
      for (let at: string | null = f; at !== null; at = parent.get(at) ?? null) chain.unshift(path.relative(dist, at));
      return chain;
    }
    for (const next of staticImports(f)) {
      if (parent.has(next) || !existsSync(next)) continue;
      parent.set(next, f);
      queue.push(next);
    }
  }
  return null;
}

test('the import walk finds libtorch where it is (a library module that uses tensors)', () => {
  const chain = chainTo(path.join(dist, 'inference', 'predict.js'), native);
  assert.ok(chain && chain.at(-1) === 'torch/native.js', 'src/inference/predict.ts reaches the addon: the walk sees through re-exports');
});

test('no module of src/cli reaches src/torch/native.ts through its top-level imports', () => {
  const cliSources = readdirSync(path.join(repoRoot(), 'src', 'cli')).filter((f) => f.endsWith('.ts'));
  assert.ok(cliSources.includes('main.ts') && cliSources.includes('eval.ts') && cliSources.includes('predict.ts'));
  const reached: string[] = [];
  for (const f of cliSources) {
    const chain = chainTo(path.join(dist, 'cli', f.replace(/\.ts$/, '.js')), native);
    if (chain) reached.push(chain.join(' -> '));
  }
  assert.deepEqual(
    reached,
    [],
    "a command module loads libtorch at import: move that import into the command's action (await import(...))",
  );
});

/** `tunevlseg <args>` with an addon path that does not exist. */
const withoutAddon = (args: string[]): { status: number | null; stdout: string; stderr: string } =>
  spawnSync(process.execPath, [main, ...args], {
    encoding: 'utf8',
    env: { ...process.env, TUNEVLSEG_ADDON: path.join(os.tmpdir(), 'tunevlseg-no-addon', 'nope.node') },
  });

test("without the addon: --help and every command's --help work", () => {
  const help = withoutAddon(['--help']);
  assert.equal(help.status, 0, help.stderr);
  for (const c of ['train', 'eval', 'predict', 'export', 'sweep', 'bench', 'demo', 'inspect', 'doctor', 'data'])
    assert.match(help.stdout, new RegExp(`\\n  ${c}\\b`), c);
  for (const c of ['eval', 'predict', 'train', 'inspect', 'demo', 'bench', 'sweep', 'convert', 'pretrain']) {
    const r = withoutAddon([c, '--help']);
    assert.equal(r.status, 0, `${c} --help: ${r.stderr}`);
    assert.match(r.stdout, /Examples:/, c);
  }
});

test('without the addon: doctor reports it missing instead of crashing', () => {
  const r = withoutAddon(['doctor', '--json']);
  const report = JSON.parse(r.stdout) as { addonError?: string; node?: string };
  assert.equal(r.status, 1, 'doctor fails the check');
  assert.match(report.addonError ?? '', /libtorch addon is not built \(.*nope\.node missing\)/);
  assert.equal(report.node, process.version);
  assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
});

test('without the addon: data check runs', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tunevlseg-lazy-'));
  try {
    for (const d of ['images', 'masks', 'anns']) mkdirSync(path.join(dir, d));
    const W = 24,
      H = 16;
    const mask = Buffer.alloc(W * H);
    for (let i = 0; i < mask.length; i++) mask[i] = i % W < W / 2 ? 255 : 0;
    for (const [split, i] of [
      ['train', 0],
      ['val', 1],
      ['test', 2],
    ] as const) {
      await sharp(Buffer.alloc(W * H * 3, 40 * (i + 1)), { raw: { width: W, height: H, channels: 3 } })
        .png()
        .toFile(path.join(dir, 'images', `im${i}.png`));
      await sharp(mask, { raw: { width: W, height: H, channels: 1 } })
        .toColourspace('b-w')
        .png()
        .toFile(path.join(dir, 'masks', `im${i}.png`));
      writeFileSync(
        path.join(dir, 'anns', `${split}.json`),
        JSON.stringify([{ img_name: `im${i}.png`, mask_name: `im${i}.png`, prompts: { p0: 'left half' } }]),
      );
    }
    const r = withoutAddon(['data', 'check', dir]);
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.doesNotMatch(r.stderr, /addon/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
