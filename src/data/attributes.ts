/**
 * Attribute prompts in the medvlsm structure (../shared/datasets/kvasir-sample/anns):
 *
 *   p0 ""                                  p4 "<sizes> <colour> <shape> <class>"
 *   p1 "<class>"                           p5 "<count> <sizes> <colour> <shape> <class>"
 *   p2 "<shape> <class>"                   p6 "<p5>, located in <positions> of the image"
 *   p3 "<colour> <shape> <class>"
 *
 * medvlsm asked a VQA model for colour and shape and measured count, size and position on
 * the mask. Here everything comes from the mask (8-connected components) and, for colour, the
 * image pixels under it. The vocabulary and thresholds are in DEFAULT_ATTRIBUTE_RULES and
 * docs/datasets.md; as in the published prompts, sizes are listed once each ("small, medium")
 * and positions once per component, in raster order of the (8-connected) components.
 */
import type { BinaryMask } from './convert/types.js';

export interface AttributeRules {
  /**
   * Components smaller than this (pixels) are not counted. medvlsm counts every component,
   * down to a JPEG mask's stray pixel (its "two large ..., located in top left, right" prompts
   * come from one such pixel in the corner), so the default is 1.
   */
  minComponentPixels: number;
  /** Area fraction of the image: < smallBelow -> "small", < largeFrom -> "medium", else "large". */
  smallBelow: number;
  largeFrom: number;
  /** Grid of the position words, on the component's bounding-box centre (fractions of width/height). */
  leftBelow: number;
  rightFrom: number;
  topBelow: number;
  bottomFrom: number;
  /** Bounding-box aspect (long/short side of the second-moment ellipse) from which a shape is "oval". */
  ovalFrom: number;
  /** Circularity 4*pi*area/perimeter^2 below which a shape is "irregular". */
  irregularBelow: number;
}

/**
 * Thresholds fitted to the 60 published Kvasir prompts of ../shared/datasets/kvasir-sample
 * (bench/attributes.ts measures the agreement): sizes split cleanly there at 8.3% and 30% of
 * the image, positions at x 0.3/0.6 and y 1/3, 2/3 of the bounding-box centre.
 */
export const DEFAULT_ATTRIBUTE_RULES: AttributeRules = {
  minComponentPixels: 1,
  smallBelow: 0.083,
  largeFrom: 0.3,
  leftBelow: 0.3,
  rightFrom: 0.6,
  topBelow: 1 / 3,
  bottomFrom: 2 / 3,
  ovalFrom: 1.35,
  irregularBelow: 0.45,
};

export interface Component {
  area: number;
  /** Centroid in pixels. */
  cx: number;
  cy: number;
  /** [x1, y1, x2, y2], inclusive. */
  bbox: [number, number, number, number];
  /** Boundary pixels (foreground with a 4-neighbour in the background or outside). */
  perimeter: number;
  /** Second moments about the centroid. */
  mxx: number;
  myy: number;
  mxy: number;
}

/** sum of k^2 for k = 0..n */
const sumSq = (n: number): number => (n * (n + 1) * (2 * n + 1)) / 6;

/**
 * Connected components (8- or 4-connected) of a binary mask, in raster order of their first
 * pixel. Works on horizontal runs joined by union-find (a per-pixel flood fill was 5x slower
 * and dominated `data convert`); each run adds its moments in closed form.
 */
export function connectedComponents(m: BinaryMask, connectivity: 4 | 8 = 8): Component[] {
  const { width: w, height: h, data } = m;
  const reach = connectivity === 8 ? 1 : 0;
  let cap = 1024;
  let rx0 = new Int32Array(cap);
  let rx1 = new Int32Array(cap);
  let ry = new Int32Array(cap);
  let parent = new Int32Array(cap);
  let n = 0;
  const find = (i: number): number => {
    let r = i;
    while (parent[r] !== r) r = parent[r] as number;
    while (parent[i] !== r) {
      const next = parent[i] as number;
      parent[i] = r;
      i = next;
    }
    return r;
  };
  let prevStart = 0;
  let prevEnd = 0;
  for (let y = 0; y < h; y++) {
    const row = y * w;
    const start = n;
    let p = prevStart;
    let x = 0;
    while (x < w) {
      if (data[row + x] === 0) {
        x++;
        continue;
      }
      const x0 = x;
      while (x < w && data[row + x] !== 0) x++;
      const x1 = x - 1;
      if (n === cap) {
        cap *= 2;
        const grow = (a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> => {
          const b = new Int32Array(cap);
          b.set(a);
          return b;
        };
        rx0 = grow(rx0);
        rx1 = grow(rx1);
        ry = grow(ry);
        parent = grow(parent);
      }
      rx0[n] = x0;
      rx1[n] = x1;
      ry[n] = y;
      parent[n] = n;
      // Runs of the previous row that touch this one (diagonally too when 8-connected).
      while (p < prevEnd && (rx1[p] as number) < x0 - reach) p++;
      for (let q = p; q < prevEnd && (rx0[q] as number) <= x1 + reach; q++) {
        const a = find(q);
        const b = find(n);
        // The root is the earlier run, so components keep the raster order of their first pixel.
        if (a < b) parent[b] = a;
        else if (b < a) parent[a] = b;
      }
      n++;
    }
    prevStart = start;
    prevEnd = n;
  }
  const index = new Int32Array(n).fill(-1);
  const comps: Component[] = [];
  const acc: { area: number; sx: number; sy: number; sxx: number; syy: number; sxy: number; perim: number; bbox: [number, number, number, number] }[] = [];
  for (let r = 0; r < n; r++) {
    const root = find(r);
    let k = index[root] as number;
    if (k === -1) {
      k = acc.length;
      index[root] = k;
      acc.push({ area: 0, sx: 0, sy: 0, sxx: 0, syy: 0, sxy: 0, perim: 0, bbox: [w, h, 0, 0] });
    }
    const c = acc[k] as (typeof acc)[number];
    const x0 = rx0[r] as number;
    const x1 = rx1[r] as number;
    const y = ry[r] as number;
    const len = x1 - x0 + 1;
    const sx = (len * (x0 + x1)) / 2;
    c.area += len;
    c.sx += sx;
    c.sy += y * len;
    c.sxx += sumSq(x1) - (x0 > 0 ? sumSq(x0 - 1) : 0);
    c.syy += y * y * len;
    c.sxy += y * sx;
    if (x0 < c.bbox[0]) c.bbox[0] = x0;
    if (x1 > c.bbox[2]) c.bbox[2] = x1;
    if (y < c.bbox[1]) c.bbox[1] = y;
    if (y > c.bbox[3]) c.bbox[3] = y;
    // Boundary pixels: the run's ends, and inner pixels with background above or below.
    if (y === 0 || y === h - 1) c.perim += len;
    else {
      const up = (y - 1) * w;
      const down = (y + 1) * w;
      for (let x = x0; x <= x1; x++) {
        if (x === x0 || x === x1 || data[up + x] === 0 || data[down + x] === 0) c.perim++;
      }
    }
  }
  for (const c of acc) {
    const cx = c.sx / c.area;
    const cy = c.sy / c.area;
    comps.push({ area: c.area, cx, cy, bbox: c.bbox, perimeter: c.perim, mxx: c.sxx / c.area - cx * cx, myy: c.syy / c.area - cy * cy, mxy: c.sxy / c.area - cx * cy });
  }
  return comps;
}

const COUNT_WORDS = ['no', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'];

export function countWord(n: number): string {
  return COUNT_WORDS[n] ?? 'many';
}

export function sizeWord(fraction: number, rules: AttributeRules = DEFAULT_ATTRIBUTE_RULES): string {
  return fraction < rules.smallBelow ? 'small' : fraction < rules.largeFrom ? 'medium' : 'large';
}

/** The cell of a 3x3 grid holding a point given as fractions of width and height. */
export function positionWord(fx: number, fy: number, rules: AttributeRules = DEFAULT_ATTRIBUTE_RULES): string {
  const row = fy < rules.topBelow ? 'top' : fy < rules.bottomFrom ? '' : 'bottom';
  const col = fx < rules.leftBelow ? 'left' : fx < rules.rightFrom ? '' : 'right';
  if (row === '' && col === '') return 'center';
  return [row, col].filter((s) => s !== '').join(' ');
}

export function shapeWord(c: Component, rules: AttributeRules = DEFAULT_ATTRIBUTE_RULES): string {
  // Eigenvalues of the second-moment matrix: the ellipse's axes are their square roots.
  const tr = c.mxx + c.myy;
  const det = c.mxx * c.myy - c.mxy * c.mxy;
  const disc = Math.sqrt(Math.max(0, (tr * tr) / 4 - det));
  const l1 = tr / 2 + disc;
  const l2 = Math.max(tr / 2 - disc, 1e-9);
  const aspect = Math.sqrt(l1 / l2);
  const circularity = c.perimeter > 0 ? (4 * Math.PI * c.area) / (c.perimeter * c.perimeter) : 1;
  if (c.area >= 50 && circularity < rules.irregularBelow) return 'irregular';
  return aspect >= rules.ovalFrom ? 'oval' : 'round';
}

/**
 * The name of a mean colour (0-255 RGB), from its hue, saturation and value:
 * black (v < 0.2), white (s < 0.18, v >= 0.7), gray (other s < 0.18), then by hue
 * red < 15° <= orange < 40° <= yellow < 70° <= green < 170° <= blue < 260° <= purple < 300°
 * <= pink < 345° <= red, with dark reds and oranges (v < 0.55) called brown and light,
 * weakly saturated reds (s < 0.45, v >= 0.7) called pink.
 */
export function colourWord(r: number, g: number, b: number): string {
  const max = Math.max(r, g, b) / 255;
  const min = Math.min(r, g, b) / 255;
  const v = max;
  const s = max === 0 ? 0 : (max - min) / max;
  if (v < 0.2) return 'black';
  if (s < 0.18) return v >= 0.7 ? 'white' : 'gray';
  let hue: number;
  const d = max - min;
  const R = r / 255;
  const G = g / 255;
  const B = b / 255;
  if (max === R) hue = 60 * (((G - B) / d) % 6);
  else if (max === G) hue = 60 * ((B - R) / d + 2);
  else hue = 60 * ((R - G) / d + 4);
  if (hue < 0) hue += 360;
  const redOrOrange = hue < 40 || hue >= 345;
  if (redOrOrange && v < 0.55) return 'brown';
  if (redOrOrange && s < 0.45 && v >= 0.7) return 'pink';
  if (hue < 15 || hue >= 345) return 'red';
  if (hue < 40) return 'orange';
  if (hue < 70) return 'yellow';
  if (hue < 170) return 'green';
  if (hue < 260) return 'blue';
  if (hue < 300) return 'purple';
  return 'pink';
}

/** RGB (or gray) pixels of the image the mask belongs to. */
export interface ImagePixels {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

/** Mean colour of the image under the mask (the image sampled nearest when sizes differ). */
export function meanColourUnder(m: BinaryMask, img: ImagePixels): [number, number, number] | null {
  const ch = img.channels;
  const colOf = new Int32Array(m.width);
  for (let x = 0; x < m.width; x++) colOf[x] = Math.min(img.width - 1, Math.floor((x * img.width) / m.width)) * ch;
  let n = 0;
  let r = 0;
  let g = 0;
  let b = 0;
  for (let y = 0; y < m.height; y++) {
    const rowM = y * m.width;
    const rowI = Math.min(img.height - 1, Math.floor((y * img.height) / m.height)) * img.width * ch;
    for (let x = 0; x < m.width; x++) {
      if (m.data[rowM + x] === 0) continue;
      const j = rowI + (colOf[x] as number);
      const v0 = img.data[j] as number;
      r += v0;
      g += ch >= 3 ? (img.data[j + 1] as number) : v0;
      b += ch >= 3 ? (img.data[j + 2] as number) : v0;
      n++;
    }
  }
  return n === 0 ? null : [r / n, g / n, b / n];
}

export interface Attributes {
  count: number;
  countWord: string;
  sizes: string[];
  positions: string[];
  shape: string;
  colour: string;
  /** [x1, y1, x2, y2] over the kept components (medvlsm's `bbox`), null when empty. */
  bbox: [number, number, number, number] | null;
}

/** The attributes of one binary mask (and the image under it, for colour). */
export function maskAttributes(m: BinaryMask, img: ImagePixels | null, rules: AttributeRules = DEFAULT_ATTRIBUTE_RULES): Attributes {
  const total = m.width * m.height;
  const all = connectedComponents(m);
  const largest = all.reduce((a, c) => Math.max(a, c.area), 0);
  const kept = all.filter((c) => c.area >= rules.minComponentPixels);
  const comps = kept.length > 0 || largest === 0 ? kept : all.filter((c) => c.area === largest);
  const sizes: string[] = [];
  for (const c of comps) {
    // A one-pixel-thin component has no area as a contour: medvlsm gives it no size word.
    if (c.bbox[2] === c.bbox[0] || c.bbox[3] === c.bbox[1]) continue;
    const w = sizeWord(c.area / total, rules);
    if (!sizes.includes(w)) sizes.push(w);
  }
  const big = comps.reduce<Component | null>((a, c) => (a === null || c.area > a.area ? c : a), null);
  const rgb = img === null ? null : meanColourUnder(m, img);
  let bbox: Attributes['bbox'] = null;
  for (const c of comps) {
    bbox = bbox === null ? [...c.bbox] : [Math.min(bbox[0], c.bbox[0]), Math.min(bbox[1], c.bbox[1]), Math.max(bbox[2], c.bbox[2]), Math.max(bbox[3], c.bbox[3])];
  }
  return {
    count: comps.length,
    countWord: countWord(comps.length),
    sizes,
    positions: comps.map((c) => positionWord((c.bbox[0] + c.bbox[2] + 1) / 2 / m.width, (c.bbox[1] + c.bbox[3] + 1) / 2 / m.height, rules)),
    shape: big === null ? '' : shapeWord(big, rules),
    colour: rgb === null ? '' : colourWord(rgb[0], rgb[1], rgb[2]),
    bbox,
  };
}

/** The p0..p6 prompts of one mask of class `className`. */
export function attributePrompts(className: string, a: Attributes): Record<string, string> {
  if (a.count === 0) {
    // An empty mask (BUSI's normal images): say so rather than invent attributes.
    return { p0: '', p1: className, p2: className, p3: className, p4: className, p5: `no ${className}`, p6: `no ${className} in the image` };
  }
  const p2 = `${a.shape} ${className}`;
  const p3 = a.colour === '' ? p2 : `${a.colour} ${p2}`;
  const p4 = `${a.sizes.join(', ')} ${p3}`;
  const p5 = `${a.countWord} ${p4}`;
  return { p0: '', p1: className, p2, p3, p4, p5, p6: `${p5}, located in ${a.positions.join(', ')} of the image` };
}
