// The public TypeScript API as a user's project sees it: a folder with its own package.json and
// node_modules/tunevlseg (a link to this repository, as `npm install <path>` makes), importing
// the package's entry points by name. Runs them, and type-checks a TypeScript user file against
// the shipped declarations (a wrong call must be a type error: the types are real, not `any`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './helpers.js';

const ENTRY_POINTS = ['tunevlseg', 'tunevlseg/torch', 'tunevlseg/data', 'tunevlseg/sweep'];

function userProject(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tvs-user-project-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'user-project', private: true, type: 'module' }));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(repoRoot(), join(dir, 'node_modules', 'tunevlseg'), 'dir');
  return dir;
}

test('package.json exports name every entry point with its JavaScript and its type declarations', () => {
  const pkg = JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as {
    exports: Record<string, { types: string; default: string } | string>;
  };
  for (const name of ENTRY_POINTS) {
    const key = name === 'tunevlseg' ? '.' : `.${name.slice('tunevlseg'.length)}`;
    const e = pkg.exports[key];
    assert.ok(e && typeof e === 'object', `exports["${key}"]`);
    for (const f of [e.types, e.default])
      assert.doesNotThrow(() => readFileSync(join(repoRoot(), f)), `${name}: ${f} exists (npm run build)`);
  }
});

test('a user project imports tunevlseg, tunevlseg/torch, tunevlseg/data and tunevlseg/sweep by name', () => {
  const dir = userProject();
  try {
    writeFileSync(
      join(dir, 'use.mjs'),
      `
      import { buildSegmenter, train, evaluate, predictFolder, loadTuned, learnerSpace, LEARNER_NAMES } from 'tunevlseg';
      import * as T from 'tunevlseg/torch';
      import { generateSyntheticDataset, loadSplit } from 'tunevlseg/data';
      import { openStorage, runStudy } from 'tunevlseg/sweep';
      const fns = { buildSegmenter, train, evaluate, predictFolder, loadTuned, generateSyntheticDataset, loadSplit, openStorage, runStudy, learnerSpace };
      const sum = T.tidy(() => T.tensor([1, 2, 3]).mul(2).sum().item());
      let internal = 'importable';
      try { await import('tunevlseg/dist/src/cli/main.js'); } catch (e) { internal = e.code; }
      console.log(JSON.stringify({ types: Object.fromEntries(Object.entries(fns).map(([k, v]) => [k, typeof v])), learners: LEARNER_NAMES, sum, internal }));
    `,
    );
    const r = spawnSync(process.execPath, ['use.mjs'], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
      types: Record<string, string>;
      learners: string[];
      sum: number;
      internal: string;
    };
    for (const [k, t] of Object.entries(out.types)) assert.equal(t, 'function', k);
    assert.ok(out.learners.includes('vpt') && out.learners.includes('coop'));
    assert.equal(out.sum, 12);
    assert.equal(out.internal, 'ERR_PACKAGE_PATH_NOT_EXPORTED', 'paths outside the exports map are not part of the API');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the type declarations type-check a TypeScript user file (and reject a wrong call)', () => {
  const dir = userProject();
  try {
    writeFileSync(
      join(dir, 'use.ts'),
      `
      import { buildSegmenter, learnerSpace, train, type TrainSummary } from 'tunevlseg';
      import { tensor, type Tensor } from 'tunevlseg/torch';
      import { loadSplit, type DatasetSample } from 'tunevlseg/data';
      import type { SearchSpace } from 'tunevlseg/sweep';
      export async function run(): Promise<number> {
        const t: Tensor = tensor([1, 2]);
        const samples: DatasetSample[] = await loadSplit('data', 'train');
        const space: SearchSpace = learnerSpace('vpt');
        const s: TrainSummary = await train({ data: { dir: 'data' }, model: { learner: 'vpt' } }, { buildSegmenter: (m) => buildSegmenter(m) });
        // @ts-expect-error train's first argument is a config object, not a string
        await train('config.yaml', { buildSegmenter: (m) => buildSegmenter(m) });
        return t.numel + samples.length + Object.keys(space.params).length + s.val.dice;
      }
    `,
    );
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          lib: ['ES2022', 'ESNext.Disposable'],
          typeRoots: [join(repoRoot(), 'node_modules', '@types')],
          types: ['node'],
        },
        files: ['use.ts'],
      }),
    );
    const tsc = join(repoRoot(), 'node_modules', 'typescript', 'bin', 'tsc');
    const r = spawnSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { cwd: dir, encoding: 'utf8', timeout: 300_000 });
    assert.equal(r.status, 0, `tsc:\n${r.stdout}${r.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
