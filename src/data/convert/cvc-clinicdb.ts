/**
 * CVC-ClinicDB (Bernal et al. 2015, https://polyp.grand-challenge.org/CVCClinicDB/): 612
 * frames, `Original/<n>.tif` and `Ground Truth/<n>.tif` as its README lays it out, or the
 * common re-packs (`PNG/Original`, `PNG/Ground Truth`; Kaggle's `TIF/...`). Output names are
 * `<n>.png` for both, as medvlsm's annotations name them; TIFFs are re-encoded as PNG.
 */
import path from 'node:path';
import { asPng, grayBinary, pairedConverter } from './paired.js';
import { stem } from './scan.js';

const pair = (dir: string) => [{ images: path.posix.join(dir, 'Original'), masks: path.posix.join(dir, 'Ground Truth') }];

export const cvcClinicDb = pairedConverter({
  name: 'cvc-clinicdb',
  title: 'CVC-ClinicDB polyps (Original/ + Ground Truth/ TIFF, or PNG re-packs)',
  className: 'polyp',
  paperSizes: { train: 490, val: 61, test: 61 },
  layouts: [pair('.'), pair('PNG'), pair('TIF'), pair('CVC-ClinicDB'), pair('CVC-ClinicDB/PNG'), pair('CVC-ClinicDB/TIF'), [{ images: 'images', masks: 'masks' }]],
  imageName: (f) => `${stem(f)}.png`,
  maskName: (m) => `${stem(m)}.png`,
  image: asPng,
  mask: grayBinary,
});
