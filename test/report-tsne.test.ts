// Exact t-SNE: perplexity calibration, cluster separation, determinism, and the helpers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeededRandom, calibrateAffinities, linearFit, rowEntropy, squaredDistances, stratifiedSample, tsne } from '../src/report/index.js';

function clusters(k: number, per: number, dim: number, sep: number, seed: number): { points: Float64Array[]; labels: number[] } {
  const rng = new SeededRandom(seed);
  const centres = Array.from({ length: k }, () => Float64Array.from({ length: dim }, () => rng.gaussian() * sep));
  const points: Float64Array[] = [];
  const labels: number[] = [];
  for (let c = 0; c < k; c++) {
    for (let i = 0; i < per; i++) {
      points.push(centres[c]!.map((x) => x + rng.gaussian()));
      labels.push(c);
    }
  }
  return { points, labels };
}

const dist2 = (Y: Float64Array, i: number, j: number): number => (Y[2 * i]! - Y[2 * j]!) ** 2 + (Y[2 * i + 1]! - Y[2 * j + 1]!) ** 2;

test('perplexity calibration reaches the target entropy log(perplexity) on every row', () => {
  const { points } = clusters(3, 20, 8, 3, 1);
  const n = points.length;
  const D = squaredDistances(points);
  for (const perp of [5, 15, 30]) {
    const { conditional, entropy, beta } = calibrateAffinities(D, n, perp);
    for (let i = 0; i < n; i++) {
      const h = rowEntropy(conditional, n, i);
      assert.ok(Math.abs(h - Math.log(perp)) < 1e-4, `row ${i}: entropy ${h} vs log(${perp}) = ${Math.log(perp)}`);
      assert.ok(Math.abs(entropy[i]! - h) < 1e-9);
      assert.equal(conditional[i * n + i], 0);
      let s = 0;
      for (let j = 0; j < n; j++) s += conditional[i * n + j]!;
      assert.ok(Math.abs(s - 1) < 1e-12);
      assert.ok(beta[i]! > 0);
    }
  }
  // A larger perplexity means a wider kernel (smaller precision) for the same point.
  const a = calibrateAffinities(D, n, 5).beta[0]!;
  const b = calibrateAffinities(D, n, 30).beta[0]!;
  assert.ok(a > b);
});

test('well-separated Gaussian clusters stay separated', () => {
  const { points, labels } = clusters(4, 25, 20, 6, 2);
  const n = points.length;
  const r = tsne(points, { perplexity: 15, iterations: 600, seed: 3 });
  assert.equal(r.embedding.length, 2 * n);
  assert.ok(r.embedding.every(Number.isFinite));
  // Nearest neighbour in the embedding is always from the same cluster.
  let agree = 0;
  for (let i = 0; i < n; i++) {
    let best = -1;
    let bd = Infinity;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const d = dist2(r.embedding, i, j);
      if (d < bd) {
        bd = d;
        best = j;
      }
    }
    if (labels[best] === labels[i]) agree++;
  }
  assert.equal(agree, n);
  // Every cluster's radius is smaller than the distance to the nearest other centroid.
  const cent = Array.from({ length: 4 }, (_, c) => {
    const idx = labels.flatMap((l, i) => (l === c ? [i] : []));
    return [
      idx.reduce((s, i) => s + r.embedding[2 * i]!, 0) / idx.length,
      idx.reduce((s, i) => s + r.embedding[2 * i + 1]!, 0) / idx.length,
    ] as const;
  });
  for (let c = 0; c < 4; c++) {
    const radius = Math.max(
      ...labels.flatMap((l, i) => (l === c ? [Math.hypot(r.embedding[2 * i]! - cent[c]![0], r.embedding[2 * i + 1]! - cent[c]![1])] : [])),
    );
    const gap = Math.min(...cent.flatMap((o, d) => (d === c ? [] : [Math.hypot(o[0] - cent[c]![0], o[1] - cent[c]![1])])));
    assert.ok(radius < gap / 2, `cluster ${c}: radius ${radius} vs gap ${gap}`);
  }
  assert.ok(r.kl >= 0 && r.kl < 1, `KL ${r.kl}`);
});

test('t-SNE is deterministic for a seed and depends on it', () => {
  const { points } = clusters(2, 15, 5, 4, 5);
  const a = tsne(points, { perplexity: 8, iterations: 300, seed: 42 });
  const b = tsne(points, { perplexity: 8, iterations: 300, seed: 42 });
  const c = tsne(points, { perplexity: 8, iterations: 300, seed: 43 });
  assert.deepEqual(a.embedding, b.embedding);
  assert.equal(a.kl, b.kl);
  assert.notDeepEqual(a.embedding, c.embedding);
});

test('optimisation lowers the KL divergence, and the embedding is centred', () => {
  const { points } = clusters(3, 12, 6, 4, 9);
  const short = tsne(points, { perplexity: 10, iterations: 1, seed: 1, exaggerationIterations: 0 });
  const long = tsne(points, { perplexity: 10, iterations: 500, seed: 1 });
  assert.ok(long.kl < short.kl * 0.5, `${long.kl} vs ${short.kl}`);
  const n = points.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += long.embedding[2 * i]!;
    my += long.embedding[2 * i + 1]!;
  }
  assert.ok(Math.abs(mx / n) < 1e-9 && Math.abs(my / n) < 1e-9);
});

test('small inputs: perplexity clamped to (n - 1) / 3; 0 and 1 points; mismatched dimensions rejected', () => {
  const { points } = clusters(1, 7, 3, 1, 4);
  assert.equal(tsne(points, { iterations: 50 }).perplexity, 2);
  assert.equal(tsne([], {}).embedding.length, 0);
  assert.deepEqual([...tsne([[1, 2, 3]], {}).embedding], [0, 0]);
  assert.throws(
    () =>
      tsne(
        [
          [1, 2],
          [1, 2, 3],
        ],
        { iterations: 1 },
      ),
    /point 1 has 3 dimensions, expected 2/,
  );
  assert.throws(() => calibrateAffinities(new Float64Array(4), 2, 0), /perplexity must be positive/);
});

test('stratified sampling keeps every dataset, deterministically', () => {
  const xs = [
    ...Array.from({ length: 90 }, (_, i) => ({ dataset: 'a', i })),
    ...Array.from({ length: 10 }, (_, i) => ({ dataset: 'b', i })),
    { dataset: 'c', i: 0 },
  ];
  const s = stratifiedSample(xs, 20, 0);
  assert.deepEqual(s, stratifiedSample(xs, 20, 0));
  assert.equal(s.filter((x) => x.dataset === 'a').length, 17);
  assert.equal(s.filter((x) => x.dataset === 'b').length, 1);
  assert.equal(s.filter((x) => x.dataset === 'c').length, 1);
  assert.equal(stratifiedSample(xs, 1000, 0).length, xs.length);
});

test('linear fit: slope, intercept and R²', () => {
  const f = linearFit([1, 2, 3, 4], [3, 5, 7, 9])!;
  assert.ok(Math.abs(f.slope - 2) < 1e-12 && Math.abs(f.intercept - 1) < 1e-12 && Math.abs(f.r2 - 1) < 1e-12);
  const g = linearFit([1, 2, 3, 4], [1, 3, 2, 4])!;
  // slope 0.8, intercept 0.5, residuals -0.3, 0.9, -0.9, 0.3 -> SSres 1.8, SStot 5.
  assert.ok(Math.abs(g.slope - 0.8) < 1e-12 && Math.abs(g.r2 - (1 - 1.8 / 5)) < 1e-12);
  assert.equal(linearFit([2, 2], [1, 3]), null);
  assert.ok(Number.isNaN(linearFit([1, 2], [5, 5])!.r2));
});
