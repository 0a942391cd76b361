/**
 * Deterministic synthetic datasets in the dataset format (format.ts), for tests and the demo.
 *
 * - `shapes` (the "natural" source domain): RGB, textured backgrounds (smooth colour noise,
 *   stripes, checker, grain), 2-3 non-overlapping rotated circles/squares/triangles in
 *   red/green/blue/yellow. Every object shares its colour or its shape with another object
 *   of the image (so both words of the prompt matter) and no two share both. One entry per
 *   object: prompt "<colour> <shape>", mask of that object only.
 * - `ultrasound` (the medical target domain): grayscale fan-shaped field of view, tissue layers,
 *   depth attenuation, multiplicative Rayleigh speckle; one dark irregular lesion with a bright
 *   rim and an acoustic shadow below it; half the images also carry a dark vessel-like
 *   distractor. Prompt "tumor".
 *
 * The design follows /work/shared/notes/demo-recipe.md (measured to work with the original
 * code); the lesion is made more conspicuous (darker core, brighter rim) as its caveats suggest.
 * Every image depends only on (seed, split, index, size): adding images never changes others.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import type { AnnotationEntry, Split } from './format.js';
import { hashSeed, Rng } from './rng.js';

export type SyntheticKind = 'shapes' | 'ultrasound';

export const SHAPE_COLOURS = {
  red: [215, 45, 40],
  green: [45, 170, 65],
  blue: [45, 85, 215],
  yellow: [230, 205, 45],
} as const satisfies Record<string, readonly [number, number, number]>;
export type ShapeColour = keyof typeof SHAPE_COLOURS;
export const SHAPE_KINDS = ['circle', 'square', 'triangle'] as const;
export type ShapeKind = (typeof SHAPE_KINDS)[number];

export interface ShapeObject {
  colour: ShapeColour;
  shape: ShapeKind;
  /** size*size, 0/1 */
  mask: Uint8Array;
}

export interface ShapesSample {
  size: number;
  /** size*size*3 RGB */
  image: Uint8Array;
  background: 'noise' | 'stripes' | 'checker' | 'grain';
  objects: ShapeObject[];
}

export interface UltrasoundSample {
  size: number;
  /** size*size gray */
  image: Uint8Array;
  /** size*size, 0/1 */
  mask: Uint8Array;
  hasVessel: boolean;
}

const clamp255 = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));

/** Smooth noise in [0, 1): a coarse random grid, bilinearly upsampled. */
function smoothNoise(rng: Rng, size: number, cells: number): Float32Array {
  const g = cells + 1;
  const grid = Float32Array.from({ length: g * g }, () => rng.next());
  const out = new Float32Array(size * size);
  for (let y = 0; y < size; y++) {
    const fy = (y / size) * cells;
    const y0 = Math.floor(fy);
    const wy = fy - y0;
    for (let x = 0; x < size; x++) {
      const fx = (x / size) * cells;
      const x0 = Math.floor(fx);
      const wx = fx - x0;
      const a = grid[y0 * g + x0] as number;
      const b = grid[y0 * g + x0 + 1] as number;
      const c = grid[(y0 + 1) * g + x0] as number;
      const d = grid[(y0 + 1) * g + x0 + 1] as number;
      out[y * size + x] = (a * (1 - wx) + b * wx) * (1 - wy) + (c * (1 - wx) + d * wx) * wy;
    }
  }
  return out;
}

function mutedColour(rng: Rng): [number, number, number] {
  const base = rng.uniform(80, 170);
  return [0, 1, 2].map(() => base + rng.uniform(-25, 25)) as [number, number, number];
}

/** Is (px, py) inside the shape centred at (cx, cy), circumradius r, rotated by angle? */
function insideShape(shape: ShapeKind, px: number, py: number, cx: number, cy: number, r: number, angle: number): boolean {
  const dx = px - cx;
  const dy = py - cy;
  if (shape === 'circle') return dx * dx + dy * dy <= r * r;
  const c = Math.cos(-angle);
  const s = Math.sin(-angle);
  const x = dx * c - dy * s;
  const y = dx * s + dy * c;
  if (shape === 'square') {
    const h = r / Math.SQRT2;
    return Math.abs(x) <= h && Math.abs(y) <= h;
  }
  // Equilateral triangle with circumradius r, one vertex up: inside all three edge half-planes.
  for (let k = 0; k < 3; k++) {
    const a = -Math.PI / 2 + (k * 2 * Math.PI) / 3 + Math.PI / 3; // outward normal of edge k
    if (x * Math.cos(a) + y * Math.sin(a) > r / 2) return false;
  }
  return true;
}

/** One image of the shapes domain. */
export function renderShapes(seed: number, size = 64): ShapesSample {
  const rng = new Rng(seed);
  const S = size;
  const k = S / 64;
  const img = new Float32Array(S * S * 3);
  const backgrounds = ['noise', 'stripes', 'checker', 'grain'] as const;
  const background = rng.pick(backgrounds);
  const c1 = mutedColour(rng);
  const c2 = mutedColour(rng);
  if (background === 'noise') {
    const n = [0, 1, 2].map(() => smoothNoise(rng, S, 3 + rng.int(4)));
    for (let i = 0; i < S * S; i++) for (let c = 0; c < 3; c++) img[i * 3 + c] = 60 + 130 * ((n[c] as Float32Array)[i] as number);
  } else if (background === 'stripes') {
    const a = rng.uniform(0, Math.PI);
    const period = rng.uniform(6, 14) * k;
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) {
        const t = 0.5 + 0.5 * Math.sin(((x * Math.cos(a) + y * Math.sin(a)) / period) * 2 * Math.PI);
        for (let c = 0; c < 3; c++) img[(y * S + x) * 3 + c] = (c1[c] as number) * t + (c2[c] as number) * (1 - t);
      }
    }
  } else if (background === 'checker') {
    const cell = Math.max(2, Math.round(rng.uniform(6, 12) * k));
    const ox = rng.int(cell);
    const oy = rng.int(cell);
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) {
        const odd = (Math.floor((x + ox) / cell) + Math.floor((y + oy) / cell)) % 2 === 1;
        for (let c = 0; c < 3; c++) img[(y * S + x) * 3 + c] = (odd ? c1 : c2)[c] as number;
      }
    }
  } else {
    for (let i = 0; i < S * S; i++) {
      const g = rng.normal() * 22;
      for (let c = 0; c < 3; c++) img[i * 3 + c] = (c1[c] as number) + g + rng.normal() * 6;
    }
  }

  // Objects: unique (colour, shape) pairs; each shares a colour or a shape with another one.
  const colours = Object.keys(SHAPE_COLOURS) as ShapeColour[];
  const count = 2 + rng.int(2);
  const specs: { colour: ShapeColour; shape: ShapeKind }[] = [{ colour: rng.pick(colours), shape: rng.pick(SHAPE_KINDS) }];
  while (specs.length < count) {
    const ref = rng.pick(specs);
    const cand =
      rng.next() < 0.5
        ? { colour: ref.colour, shape: rng.pick(SHAPE_KINDS.filter((s) => s !== ref.shape)) }
        : { colour: rng.pick(colours.filter((c) => c !== ref.colour)), shape: ref.shape };
    if (!specs.some((s) => s.colour === cand.colour && s.shape === cand.shape)) specs.push(cand);
  }
  const placed: { cx: number; cy: number; r: number; angle: number }[] = [];
  const objects: ShapeObject[] = [];
  for (const spec of specs) {
    let pos: { cx: number; cy: number; r: number; angle: number } | null = null;
    for (let attempt = 0; attempt < 200 && pos === null; attempt++) {
      const r = rng.uniform(7, 12) * k;
      const cx = rng.uniform(r + 1, S - r - 1);
      const cy = rng.uniform(r + 1, S - r - 1);
      if (placed.every((p) => Math.hypot(p.cx - cx, p.cy - cy) > p.r + r + 2 * k)) {
        pos = { cx, cy, r, angle: rng.uniform(0, 2 * Math.PI) };
      }
    }
    if (pos === null) break; // no room: keep the objects placed so far (they still share words)
    placed.push(pos);
    const mask = new Uint8Array(S * S);
    const base = SHAPE_COLOURS[spec.colour];
    const shade = rng.uniform(0.85, 1.1);
    const x0 = Math.max(0, Math.floor(pos.cx - pos.r - 1));
    const x1 = Math.min(S - 1, Math.ceil(pos.cx + pos.r + 1));
    const y0 = Math.max(0, Math.floor(pos.cy - pos.r - 1));
    const y1 = Math.min(S - 1, Math.ceil(pos.cy + pos.r + 1));
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        if (insideShape(spec.shape, x + 0.5, y + 0.5, pos.cx, pos.cy, pos.r, pos.angle)) mask[y * S + x] = 1;
        // 2x2 supersampling for anti-aliased edges in the image.
        let cover = 0;
        for (const [sx, sy] of [
          [0.25, 0.25],
          [0.75, 0.25],
          [0.25, 0.75],
          [0.75, 0.75],
        ] as const) {
          if (insideShape(spec.shape, x + sx, y + sy, pos.cx, pos.cy, pos.r, pos.angle)) cover += 0.25;
        }
        if (cover > 0) {
          const i = (y * S + x) * 3;
          for (let c = 0; c < 3; c++) img[i + c] = (img[i + c] as number) * (1 - cover) + (base[c] as number) * shade * cover;
        }
      }
    }
    objects.push({ ...spec, mask });
  }
  const image = new Uint8Array(S * S * 3);
  for (let i = 0; i < image.length; i++) image[i] = clamp255((img[i] as number) + rng.normal() * 4);
  return { size: S, image, background, objects };
}

/** One image of the ultrasound domain. */
export function renderUltrasound(seed: number, size = 64): UltrasoundSample {
  const rng = new Rng(seed);
  const S = size;
  // Fan geometry: apex above the image, sector of +-halfAngle.
  const ax = S / 2;
  const ay = -0.15 * S;
  const r0 = 0.25 * S;
  const r1 = 1.12 * S;
  const halfAngle = (rng.uniform(34, 40) * Math.PI) / 180;
  const polar = (x: number, y: number): [number, number] => [Math.hypot(x - ax, y - ay), Math.atan2(x - ax, y - ay)];

  // Tissue layers along depth with wavy boundaries.
  const layerDepths = [0.06, 0.25, 0.55].map((d, i) => r0 + (d + rng.uniform(-0.03, 0.03) * (i + 1)) * (r1 - r0));
  const layerLevels = [1.35, rng.uniform(0.45, 0.6), rng.uniform(0.8, 1.0), rng.uniform(0.6, 0.8)];
  const waves = layerDepths.map(() => ({ amp: rng.uniform(0.01, 0.04) * S, freq: rng.uniform(2, 5), phase: rng.uniform(0, 2 * Math.PI) }));
  const texture = smoothNoise(rng, S, 5);
  const gain = rng.uniform(0.85, 1.05);

  // Lesion: irregular blob, ~7.5% of the image on average.
  const R = rng.uniform(0.14, 0.2) * S;
  const aspect = rng.uniform(0.7, 0.95); // height / width
  const lesionDepth = r0 + rng.uniform(0.3, 0.62) * (r1 - r0);
  const lesionAngle = rng.uniform(-0.55, 0.55) * halfAngle;
  const lx = ax + lesionDepth * Math.sin(lesionAngle);
  const ly = ay + lesionDepth * Math.cos(lesionAngle);
  const harmonics = [2, 3, 4, 5].map((h) => ({ h, a: rng.uniform(0.04, 0.16) / Math.sqrt(h - 1), p: rng.uniform(0, 2 * Math.PI) }));
  const radiusAt = (phi: number): number => R * (1 + harmonics.reduce((s, { h, a, p }) => s + a * Math.sin(h * phi + p), 0));
  /** Normalised radial distance to the lesion boundary (1 = on it). */
  const lesionRho = (x: number, y: number): number => {
    const dx = x - lx;
    const dy = (y - ly) / aspect;
    return Math.hypot(dx, dy) / radiusAt(Math.atan2(dy, dx));
  };
  const rimWidth = rng.uniform(0.14, 0.22);

  // Optional vessel: a dark tube with bright walls, away from the lesion.
  const hasVessel = rng.next() < 0.5;
  let vessel: { x0: number; y0: number; x1: number; y1: number; w: number } | null = null;
  if (hasVessel) {
    for (let attempt = 0; attempt < 50 && vessel === null; attempt++) {
      const depth = r0 + rng.uniform(0.15, 0.85) * (r1 - r0);
      const ang = rng.uniform(-0.6, 0.6) * halfAngle;
      const cx = ax + depth * Math.sin(ang);
      const cy = ay + depth * Math.cos(ang);
      const len = rng.uniform(0.3, 0.55) * S;
      const dir = rng.uniform(-0.35, 0.35);
      const cand = {
        x0: cx - (Math.cos(dir) * len) / 2,
        y0: cy - (Math.sin(dir) * len) / 2,
        x1: cx + (Math.cos(dir) * len) / 2,
        y1: cy + (Math.sin(dir) * len) / 2,
        w: rng.uniform(0.025, 0.04) * S,
      };
      if (segmentDistance(lx, ly, cand) > R * 1.6 + cand.w) vessel = cand;
    }
  }

  const [lr, lth] = polar(lx, ly);
  const halfWidthAngle = (R / lr) * 0.85;
  const tissue = new Float32Array(S * S);
  const mask = new Uint8Array(S * S);
  const inFan = new Uint8Array(S * S);
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      const i = y * S + x;
      const [r, th] = polar(x + 0.5, y + 0.5);
      if (r < r0 || r > r1 || Math.abs(th) > halfAngle) continue;
      inFan[i] = 1;
      let layer = 0;
      for (let l = 0; l < layerDepths.length; l++) {
        const w = waves[l] as { amp: number; freq: number; phase: number };
        if (r > (layerDepths[l] as number) + w.amp * Math.sin(w.freq * th * 4 + w.phase)) layer = l + 1;
      }
      let v = (layerLevels[layer] as number) * (0.75 + 0.5 * (texture[i] as number));
      // Depth attenuation.
      v *= Math.exp((-1.1 * (r - r0)) / S);
      const rho = lesionRho(x + 0.5, y + 0.5);
      if (rho <= 1) {
        mask[i] = 1;
        v = 0.12 + 0.08 * (texture[i] as number);
      } else if (rho <= 1 + rimWidth) {
        v *= 1.9;
      }
      // Acoustic shadow: below the lesion (deeper along the beam), fading with depth.
      if (r > lr && Math.abs(th - lth) < halfWidthAngle && rho > 1 + rimWidth) {
        const edge = Math.min(1, (halfWidthAngle - Math.abs(th - lth)) / (halfWidthAngle * 0.3));
        v *= 1 - 0.6 * edge * Math.exp(-(r - lr) / (0.8 * S));
      }
      if (vessel !== null) {
        const d = segmentDistance(x + 0.5, y + 0.5, vessel);
        if (d < vessel.w) v = 0.08 + 0.05 * (texture[i] as number);
        else if (d < vessel.w + 0.012 * S + 0.6) v *= 1.5;
      }
      tissue[i] = v * gain;
    }
  }
  // Multiplicative Rayleigh speckle (unit mean), lightly correlated laterally.
  const speckle = new Float32Array(S * S);
  const rayleighMean = Math.sqrt(Math.PI / 2);
  for (let i = 0; i < S * S; i++) speckle[i] = Math.sqrt(-2 * Math.log(1 - rng.next())) / rayleighMean;
  const image = new Uint8Array(S * S);
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      const i = y * S + x;
      if (inFan[i] === 0) {
        image[i] = 0;
        continue;
      }
      const l = speckle[x > 0 ? i - 1 : i] as number;
      const rr = speckle[x < S - 1 ? i + 1 : i] as number;
      const sp = 0.6 * (speckle[i] as number) + 0.2 * (l + rr);
      image[i] = clamp255(150 * (tissue[i] as number) * sp);
    }
  }
  return { size: S, image, mask, hasVessel: vessel !== null };
}

function segmentDistance(px: number, py: number, s: { x0: number; y0: number; x1: number; y1: number }): number {
  const vx = s.x1 - s.x0;
  const vy = s.y1 - s.y0;
  const t = Math.max(0, Math.min(1, ((px - s.x0) * vx + (py - s.y0) * vy) / (vx * vx + vy * vy)));
  return Math.hypot(px - (s.x0 + t * vx), py - (s.y0 + t * vy));
}

export interface SyntheticOptions {
  /** Image side in pixels. Default 64. */
  size?: number;
  /** Images per split. Default train 32, val 8, test 8. */
  counts?: Partial<Record<Split, number>>;
  seed?: number;
}

export interface SyntheticSummary {
  dir: string;
  kind: SyntheticKind;
  size: number;
  seed: number;
  splits: Record<Split, { images: number; entries: number }>;
}

const SPLIT_IDS: Record<Split, number> = { train: 1, val: 2, test: 3 };
export const DEFAULT_SYNTHETIC_COUNTS: Readonly<Record<Split, number>> = { train: 32, val: 8, test: 8 };

async function writePng(file: string, data: Uint8Array, size: number, channels: 1 | 3): Promise<void> {
  let p = sharp(data, { raw: { width: size, height: size, channels } });
  if (channels === 1) p = p.toColourspace('b-w');
  await p.png({ compressionLevel: 9, adaptiveFiltering: false }).toFile(file);
}

async function inPool(tasks: (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, tasks.length) }, async () => {
      while (next < tasks.length) await (tasks[next++] as () => Promise<void>)();
    }),
  );
}

/**
 * Writes a synthetic dataset to `dir` (images/, masks/, anns/{train,val,test}.json). The
 * folder is created if needed; existing files with the same names are overwritten.
 */
export async function generateSyntheticDataset(kind: SyntheticKind, dir: string, opts: SyntheticOptions = {}): Promise<SyntheticSummary> {
  const size = opts.size ?? 64;
  if (!Number.isInteger(size) || size < 16) throw new RangeError(`synthetic image size must be an integer >= 16, got ${size}`);
  const seed = opts.seed ?? 0;
  const counts = { ...DEFAULT_SYNTHETIC_COUNTS, ...opts.counts };
  const root = path.resolve(dir);
  for (const sub of ['images', 'masks', 'anns']) await fs.mkdir(path.join(root, sub), { recursive: true });
  const splits = {} as SyntheticSummary['splits'];
  for (const split of ['train', 'val', 'test'] as const) {
    const n = counts[split];
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`count for ${split} must be an integer >= 0, got ${n}`);
    const entries: AnnotationEntry[] = [];
    const tasks: (() => Promise<void>)[] = [];
    for (let i = 0; i < n; i++) {
      const sampleSeed = hashSeed(seed, SPLIT_IDS[split], i, kind === 'shapes' ? 1 : 2);
      const stem = `${kind}-${split}-${String(i).padStart(5, '0')}`;
      const imgName = `${stem}.png`;
      if (kind === 'shapes') {
        const s = renderShapes(sampleSeed, size);
        tasks.push(() => writePng(path.join(root, 'images', imgName), s.image, size, 3));
        s.objects.forEach((o, k) => {
          const maskName = `${stem}-${k}.png`;
          const m = o.mask.map((v) => v * 255);
          tasks.push(() => writePng(path.join(root, 'masks', maskName), m, size, 1));
          const p = `${o.colour} ${o.shape}`;
          entries.push({
            img_name: imgName,
            mask_name: maskName,
            prompts: { p0: '', p1: p, p2: [p, `the ${p}`, `${p} shape`] },
            colour: o.colour,
            shape: o.shape,
            background: s.background,
          });
        });
      } else {
        const s = renderUltrasound(sampleSeed, size);
        const m = s.mask.map((v) => v * 255);
        tasks.push(() => writePng(path.join(root, 'images', imgName), s.image, size, 1));
        tasks.push(() => writePng(path.join(root, 'masks', imgName), m, size, 1));
        entries.push({
          img_name: imgName,
          mask_name: imgName,
          prompts: { p0: '', p1: 'tumor', p2: ['tumor', 'dark tumor', 'tumor with a bright rim'] },
          vessel: s.hasVessel,
        });
      }
    }
    await inPool(tasks, 4);
    await fs.writeFile(path.join(root, 'anns', `${split}.json`), `${JSON.stringify(entries, null, 1)}\n`);
    splits[split] = { images: n, entries: entries.length };
  }
  return { dir: root, kind, size, seed, splits };
}
