// `tunevlseg bench` end to end on a tiny grid: cells laid out for the report, resumable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, fixturesDir } from './helpers.js';
import { generateSyntheticDataset } from '../src/data/synthetic.js';
import { gridCells as benchCells, namedSpec, GRID_DEFAULT_MODELS as BENCH_DEFAULT_MODELS } from '../src/experiment/grid.js';

const bin = join(repoRoot(), 'bin', 'tunevlseg.js');
const run = (args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } =>
  spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', env: { ...process.env, TUNEVLSEG_THREADS: '1' }, timeout: 300_000 });

test('the grid defaults to CIDAS/clipseg-rd64, the model the original experiment configs load', () => {
  const [cell] = benchCells([BENCH_DEFAULT_MODELS], ['vpt'], ['kv=/data/kvasir'], []);
  assert.deepEqual(cell!.model, { name: 'clipseg', spec: 'CIDAS/clipseg-rd64' });
  const help = run(['bench', '--help'], repoRoot()).stdout;
  assert.match(help, /CIDAS\/clipseg-rd64/);
});

test('grid cells: CRIS gets textual learners only; ablations attach where they apply', () => {
  const cells = benchCells(['clipseg', 'cris'], ['vpt', 'coop', 'maple'], ['kv=/data/kvasir'], ['init', 'upsampler']);
  const ids = cells.map((c) => c.id);
  assert.ok(ids.includes('clipseg__vpt__kv') && ids.includes('cris__coop__kv'));
  assert.ok(!ids.includes('cris__vpt__kv') && !ids.includes('cris__maple__kv'));
  assert.ok(ids.includes('clipseg__maple__kv__init-gaussian') && !ids.includes('clipseg__vpt__kv__init-gaussian'));
  assert.ok(ids.includes('clipseg__vpt__kv__no-upsampler'));
  assert.deepEqual(cells.find((c) => c.id === 'clipseg__vpt__kv__no-upsampler')!.overrides, { useNewLastLayer: false });
  assert.deepEqual(namedSpec('/x/y/Kvasir-SEG/'), { name: 'Kvasir-SEG', spec: '/x/y/Kvasir-SEG/' });
  assert.throws(() => benchCells(['clipseg'], ['nope'], ['d'], []), /unknown learner "nope"/);
  assert.throws(() => benchCells(['clipseg'], ['vpt'], ['d'], ['bogus']), /unknown ablation "bogus"/);
});

test('bench runs each cell once, writes the report layout, and the report reads it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tvs-bench-cli-'));
  try {
    await generateSyntheticDataset('ultrasound', join(dir, 'data'), { size: 64, counts: { train: 8, val: 4, test: 4 }, seed: 2 });
    writeFileSync(
      join(dir, 'train.json'),
      JSON.stringify({
        model: { tokenizer: join(fixturesDir(), 'tokenizer'), imageSize: 64 },
        batchSize: 4,
        effectiveBatchSize: 8,
        minEpochs: 1,
        maxEpochs: 1,
        data: { workers: 0 },
      }),
    );
    const args = [
      'bench',
      '--models',
      `tiny=${join(fixturesDir(), 'clipseg-tiny')}`,
      '--learners',
      'vpt',
      '--datasets',
      `us=${join(dir, 'data')}`,
      '--trials',
      '1',
      '--out',
      join(dir, 'bench'),
      '--ablate',
      'upsampler',
      '-c',
      join(dir, 'train.json'),
      '--max-depth',
      '3',
      '-q',
    ];
    const r = run(args, dir);
    assert.equal(r.status, 0, r.stderr.slice(-3000));
    assert.match(r.stdout, /2 cell\(s\) run, 0 already finished/);
    for (const cell of ['tiny__vpt__us', 'tiny__vpt__us__no-upsampler']) {
      const c = join(dir, 'bench', 'cells', cell);
      for (const f of ['summary.json', 'config.json', 'metrics.jsonl', 'trials.jsonl', 'checkpoints/best.safetensors'])
        assert.ok(existsSync(join(c, f)), `${cell}/${f}`);
      assert.ok(
        readdirSync(join(c, 'predictions')).some((f) => f.endsWith('_overlay.png')),
        'test-set overlays',
      );
      const trials = readFileSync(join(c, 'trials.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { state: string });
      assert.equal(trials.length, 1);
      assert.equal(trials[0]!.state, 'complete');
    }
    const emb = JSON.parse(readFileSync(join(dir, 'bench', 'embeddings', 'us.json'), 'utf8')) as {
      text: { labels: string[]; vectors: number[][] };
      image: { labels: string[]; vectors: number[][] };
    };
    assert.deepEqual(emb.text.labels, ['tumor.']);
    assert.equal(emb.image.labels.length, 4);
    assert.equal(emb.image.vectors[0]!.length, 32, 'projection_dim of the tiny CLIPSeg');
    const cfg = JSON.parse(readFileSync(join(dir, 'bench', 'cells', 'tiny__vpt__us__no-upsampler', 'config.json'), 'utf8')) as {
      model: { useNewLastLayer: boolean };
    };
    assert.equal(cfg.model.useNewLastLayer, false);
    const again = run(args, dir);
    assert.equal(again.status, 0, again.stderr.slice(-2000));
    assert.match(again.stdout, /0 cell\(s\) run, 2 already finished/);
    const rep = run(['report', join(dir, 'bench')], dir);
    assert.equal(rep.status, 0, rep.stderr.slice(-2000));
    const md = readFileSync(join(dir, 'bench', 'report', 'report.md'), 'utf8');
    assert.match(md, /\*\*Table 3\.\*\*/);
    assert.match(md, /\*\*Table 5\.\*\*/);
    // One dataset's embeddings cannot show a shift between datasets: Fig. 4 is left out, saying why.
    assert.ok(!existsSync(join(dir, 'bench', 'report', 'figures', 'fig4-tsne.svg')));
    const html = readFileSync(join(dir, 'bench', 'report', 'report.html'), 'utf8');
    assert.match(html, /data-omitted="fig4-tsne"><b>[^<]+<\/b> is left out: embeddings of one dataset only \(us\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
