/**
 * Attribute prompts in the medvlsm structure (../shared/datasets/kvasir-sample/anns):
 *
 *   p0 ""                                  p4 "<sizes> <colour> <shape> <class>"
 *   p1 "<class>"                           p5 "<count> <sizes> <colour> <shape> <class>"
 *   p2 "<shape> <class>"                   p6 "<p5>, located in <positions> of the image"
 *   p3 "<colour> <shape> <class>"
 *
 * medvlsm asked a VQA model for colour and shape and measured count, size, position and the
 * `bbox` on the mask. Those four follow the code that made the published prompts
 * (`get_mask_decription` and `mask_to_overall_bbox` in its authors' `features_from_img.py`,
 * public in a fork of CRIS.pytorch, `utils/features_from_img_.py`), read and re-implemented
 * here, not copied:
 *
 * - components: 4-connected (scipy's `ndimage.label` default) of gray > 127; all are counted;
 * - size per component, by its share of the image: none at or below 0.0001, `tiny` below
 *   0.001, `small` up to 0.08, `medium` up to 0.30, `large` above; the distinct words listed
 *   in the order tiny, small, medium, large;
 * - position per component, from its pixels in the 3x3 grid cut at int(h/3), int(2h/3),
 *   int(w/3), int(2w/3): the one cell it touches; else the one cell holding at least 10% of
 *   it; else, with none at 10%, the cell holding the least; else (several at 10%) the centre
 *   of its box, with rows AND columns cut at h/3 and 2h/3 (the code compares the x centre with
 *   the image height: on wider-than-high frames "right" starts left of 2/3 of the width);
 * - box: a contour-traced box, one pixel wider than the component's pixels on the top and
 *   left (not past the image edge) and exclusive on the bottom and right:
 *   [max(x0 - 1, 0), max(y0 - 1, 0), x1 + 1, y1 + 1]; `bbox` is the union over components whose
 *   box has an area above 4.
 *
 * Colour and shape come from the pixels here (the image under the mask; the mask's moments).
 */
import type { BinaryMask } from './convert/types.js';

export interface AttributeRules {
  /** Component share of the image at or below which it gets no size word. */
  noSizeUpTo: number;
  /** Share of the image: < tinyBelow "tiny", <= smallUpTo "small", <= mediumUpTo "medium", else "large". */
  tinyBelow: number;
  smallUpTo: number;
  mediumUpTo: number;
  /** A grid cell holding at least this share of a component counts for its position. */
  significantCell: number;
  /** Bounding-box aspect (long/short side of the second-moment ellipse) from which a shape is "oval". */
  ovalFrom: number;
  /** Circularity 4*pi*area/perimeter^2 below which a shape is "irregular". */
  irregularBelow: number;
}

/** medvlsm's values (see the module comment); shape cuts are ours (medvlsm asked a VQA model). */
export const DEFAULT_ATTRIBUTE_RULES: AttributeRules = {
  noSizeUpTo: 0.0001,
  tinyBelow: 0.001,
  smallUpTo: 0.08,
  mediumUpTo: 0.3,
  significantCell: 0.1,
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
  /** Pixels in each cell of the 3x3 grid (row-major: top left ... bottom right), cut at int(h/3), int(2h/3), int(w/3), int(2w/3). */
  cells: number[];
  /**
   * The same two counts over the component's "full" pixels only (raw gray exactly 255, what
   * medvlsm's code measures: a JPEG mask's edge pixels at 250 are in the component but not
   * counted); equal to area and cells when no gray levels are given.
   */
  fullArea: number;
  fullCells: number[];
}

/** sum of k^2 for k = 0..n */
const sumSq = (n: number): number => (n * (n + 1) * (2 * n + 1)) / 6;

/**
 * Connected components (4-connected by default, as scipy's `ndimage.label`; or 8) of a binary
 * mask, in raster order of their first pixel. Works on horizontal runs joined by union-find (a per-pixel flood fill was 5x slower
 * and dominated `data convert`); each run adds its moments in closed form.
 */
export function connectedComponents(m: BinaryMask, connectivity: 4 | 8 = 4, full?: Uint8Array): Component[] {
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
  const acc: {
    area: number;
    sx: number;
    sy: number;
    sxx: number;
    syy: number;
    sxy: number;
    perim: number;
    bbox: [number, number, number, number];
    cells: number[];
    fullCells: number[];
  }[] = [];
  // The grid's cuts, as numpy slices mask[0:int(h/3)], mask[int(h/3):int(2h/3)], mask[int(2h/3):].
  const colCuts = [Math.trunc(w / 3), Math.trunc((2 * w) / 3)] as const;
  const rowCuts = [Math.trunc(h / 3), Math.trunc((2 * h) / 3)] as const;
  for (let r = 0; r < n; r++) {
    const root = find(r);
    let k = index[root] as number;
    if (k === -1) {
      k = acc.length;
      index[root] = k;
      acc.push({
        area: 0,
        sx: 0,
        sy: 0,
        sxx: 0,
        syy: 0,
        sxy: 0,
        perim: 0,
        bbox: [w, h, 0, 0],
        cells: [0, 0, 0, 0, 0, 0, 0, 0, 0],
        fullCells: [0, 0, 0, 0, 0, 0, 0, 0, 0],
      });
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
    const row = y < rowCuts[0] ? 0 : y < rowCuts[1] ? 3 : 6;
    c.cells[row] = (c.cells[row] as number) + Math.max(0, Math.min(x1, colCuts[0] - 1) - x0 + 1);
    c.cells[row + 1] = (c.cells[row + 1] as number) + Math.max(0, Math.min(x1, colCuts[1] - 1) - Math.max(x0, colCuts[0]) + 1);
    c.cells[row + 2] = (c.cells[row + 2] as number) + Math.max(0, x1 - Math.max(x0, colCuts[1]) + 1);
    if (full !== undefined) {
      for (let x = x0; x <= x1; x++) {
        if (full[y * w + x] === 0) continue;
        const cell = row + (x < colCuts[0] ? 0 : x < colCuts[1] ? 1 : 2);
        c.fullCells[cell] = (c.fullCells[cell] as number) + 1;
      }
    }
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
    comps.push({
      area: c.area,
      cx,
      cy,
      bbox: c.bbox,
      perimeter: c.perim,
      mxx: c.sxx / c.area - cx * cx,
      myy: c.syy / c.area - cy * cy,
      mxy: c.sxy / c.area - cx * cy,
      cells: c.cells,
      fullArea: full === undefined ? c.area : c.fullCells.reduce((a, b) => a + b, 0),
      fullCells: full === undefined ? c.cells : c.fullCells,
    });
  }
  return comps;
}

const COUNT_WORDS = ['no', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'];

export function countWord(n: number): string {
  return COUNT_WORDS[n] ?? 'many';
}

/** The size word of a component covering `fraction` of the image ('' at or below `noSizeUpTo`). */
export function sizeWord(fraction: number, rules: AttributeRules = DEFAULT_ATTRIBUTE_RULES): string {
  if (fraction <= rules.noSizeUpTo) return '';
  if (fraction > rules.mediumUpTo) return 'large';
  if (fraction > rules.smallUpTo) return 'medium';
  return fraction < rules.tinyBelow ? 'tiny' : 'small';
}

const SIZE_ORDER = ['tiny', 'small', 'medium', 'large'];
const CELL_NAMES = ['top left', 'top', 'top right', 'left', 'center', 'right', 'bottom left', 'bottom', 'bottom right'];

/**
 * medvlsm's box of a component: traced along its contour, one pixel out on the top and left
 * (not past the edge), exclusive on the bottom and right.
 */
export function contourBox(c: Component): [number, number, number, number] {
  return [Math.max(c.bbox[0] - 1, 0), Math.max(c.bbox[1] - 1, 0), c.bbox[2] + 1, c.bbox[3] + 1];
}

/**
 * The grid word of a box centre (cx, cy in pixels) in an image `height` pixels high: rows and
 * columns both cut at height/3 and 2*height/3, centre band inclusive, as medvlsm's code does.
 */
export function positionWord(cx: number, cy: number, height: number): string {
  const third = height / 3;
  const band = (v: number, lo: string, hi: string): string => (v < third ? lo : v <= 2 * third ? '' : hi);
  const row = band(cy, 'top', 'bottom');
  const col = band(cx, 'left', 'right');
  if (row === '' && col === '') return 'center';
  return [row, col].filter((x) => x !== '').join(' ');
}

/** A component's position word (see the module comment). */
export function componentPosition(c: Component, height: number, rules: AttributeRules = DEFAULT_ATTRIBUTE_RULES): string {
  // medvlsm divides by the full pixels: with none (a component all edge of a JPEG mask) every
  // share is NaN and its code ends at the first cell.
  if (c.fullArea === 0) return CELL_NAMES[0] as string;
  const share = c.fullCells.map((n) => n / c.fullArea);
  const touched = share.flatMap((v, i) => (v !== 0 ? [i] : []));
  if (touched.length === 1) return CELL_NAMES[touched[0] as number] as string;
  const significant = share.flatMap((v, i) => (v >= rules.significantCell ? [i] : []));
  if (significant.length === 0) {
    // The least-held cell (first in grid order on ties), as the code's ascending sort gives.
    const least = touched.reduce((a, i) => ((share[i] as number) < (share[a] as number) ? i : a));
    return CELL_NAMES[least] as string;
  }
  if (significant.length === 1) return CELL_NAMES[significant[0] as number] as string;
  const [x1, y1, x2, y2] = contourBox(c);
  return positionWord((x1 + x2) / 2, (y1 + y2) / 2, height);
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
  /** medvlsm's `bbox`: [x1, y1, x2, y2), the union of the components' contour boxes (module comment); null when empty. */
  bbox: [number, number, number, number] | null;
}

/**
 * The attributes of one binary mask (and the image under it, for colour). `gray`: the raw
 * mask's gray levels when they are not only 0 and 255 (JPEG masks), for medvlsm's sizes and
 * grid cells, which count only pixels at exactly 255.
 */
export function maskAttributes(
  m: BinaryMask,
  img: ImagePixels | null,
  rules: AttributeRules = DEFAULT_ATTRIBUTE_RULES,
  gray?: Uint8Array,
): Attributes {
  const total = m.width * m.height;
  let full: Uint8Array | undefined;
  if (gray !== undefined) {
    if (gray.length !== total) throw new RangeError(`maskAttributes: ${gray.length} gray levels for a ${m.width}x${m.height} mask`);
    full = new Uint8Array(total);
    for (let i = 0; i < total; i++) full[i] = gray[i] === 255 ? 1 : 0;
  }
  const comps = connectedComponents(m, 4, full);
  const words = new Set(comps.map((c) => sizeWord(c.fullArea / total, rules)));
  const big = comps.reduce<Component | null>((a, c) => (a === null || c.area > a.area ? c : a), null);
  const rgb = img === null ? null : meanColourUnder(m, img);
  let bbox: Attributes['bbox'] = null;
  for (const c of comps) {
    const b = contourBox(c);
    if ((b[2] - b[0]) * (b[3] - b[1]) <= 4) continue;
    bbox = bbox === null ? b : [Math.min(bbox[0], b[0]), Math.min(bbox[1], b[1]), Math.max(bbox[2], b[2]), Math.max(bbox[3], b[3])];
  }
  return {
    count: comps.length,
    countWord: countWord(comps.length),
    sizes: SIZE_ORDER.filter((w) => words.has(w)),
    positions: comps.map((c) => componentPosition(c, m.height, rules)).filter((p) => p !== ''),
    shape: big === null ? '' : shapeWord(big, rules),
    colour: rgb === null ? '' : colourWord(rgb[0], rgb[1], rgb[2]),
    bbox,
  };
}

/** The p0..p6 prompts of one mask of class `className`. */
export function attributePrompts(className: string, a: Attributes): Record<string, string> {
  if (a.count === 0) {
    // An empty mask (BUSI's normal images): say so rather than invent attributes.
    return {
      p0: '',
      p1: className,
      p2: className,
      p3: className,
      p4: className,
      p5: `no ${className}`,
      p6: `no ${className} in the image`,
    };
  }
  const p2 = `${a.shape} ${className}`;
  const p3 = a.colour === '' ? p2 : `${a.colour} ${p2}`;
  const p4 = `${a.sizes.join(', ')} ${p3}`;
  const p5 = `${a.countWord} ${p4}`;
  return { p0: '', p1: className, p2, p3, p4, p5, p6: `${p5}, located in ${a.positions.join(', ')} of the image` };
}
