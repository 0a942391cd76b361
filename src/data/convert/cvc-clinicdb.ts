/**
 * CVC-ClinicDB (Bernal et al. 2015, https://polyp.grand-challenge.org/CVCClinicDB/): 612
 * frames, `Original/<n>.tif` and `Ground Truth/<n>.tif` as its README lays it out, or the
 * common re-packs (`PNG/Original`, `PNG/Ground Truth`; Kaggle's `TIF/...`). Output names are
 * `<n>.png` for both, as medvlsm's annotations name them; TIFFs are re-encoded as PNG (the
 * `Original/` TIFFs' headers say grey over RGB samples: ../image.ts reads their RGB).
 *
 * The frames come from 29 video sequences (of 25 studies); frames of one sequence are near
 * duplicates, so without --anns a sequence stays in one split. The frame ranges are the table
 * of the README.txt distributed with the dataset ("The correspondence between the number of
 * frame and the video sequence"): sequence k holds frames SEQUENCE_STARTS[k-1] up to the next
 * start - 1, the last one up to 612.
 */
import path from 'node:path';
import { asPng, grayBinary, pairedConverter } from './paired.js';
import { stem } from './scan.js';

/** First frame of each of the 29 sequences (README.txt of CVC-ClinicDB). */
export const SEQUENCE_STARTS: readonly number[] = [
  1, 26, 51, 68, 79, 104, 127, 152, 178, 200, 206, 228, 253, 278, 298, 318, 343, 364, 384, 409, 429, 448, 467, 479, 504, 529, 547, 572, 592,
];
export const FRAMES = 612;

/** The video sequence (1-29) of frame `n` (1-612), or null for a number outside the table. */
export function clinicDbSequence(n: number): number | null {
  if (!Number.isInteger(n) || n < 1 || n > FRAMES) return null;
  let k = 0;
  while (k + 1 < SEQUENCE_STARTS.length && (SEQUENCE_STARTS[k + 1] as number) <= n) k++;
  return k + 1;
}

const pair = (dir: string) => [{ images: path.posix.join(dir, 'Original'), masks: path.posix.join(dir, 'Ground Truth') }];

export const cvcClinicDb = pairedConverter({
  name: 'cvc-clinicdb',
  title: 'CVC-ClinicDB polyps (Original/ + Ground Truth/ TIFF, or PNG re-packs)',
  className: 'polyp',
  paperSizes: { train: 490, val: 61, test: 61 },
  layouts: [
    pair('.'),
    pair('PNG'),
    pair('TIF'),
    pair('CVC-ClinicDB'),
    pair('CVC-ClinicDB/PNG'),
    pair('CVC-ClinicDB/TIF'),
    [{ images: 'images', masks: 'masks' }],
  ],
  imageName: (f) => `${stem(f)}.png`,
  maskName: (m) => `${stem(m)}.png`,
  image: asPng,
  mask: grayBinary,
  group: (f) => {
    const k = /^\d+$/.test(stem(f)) ? clinicDbSequence(Number(stem(f))) : null;
    return k === null ? undefined : String(k);
  },
  groupWord: 'video sequence',
});
