/**
 * BKAI-IGH NeoPolyp (Kaggle competition bkai-igh-neopolyp): `train/train/*.jpeg` and
 * `train_gt/train_gt/*.jpeg`, masks colour-coded (red neoplastic, green non-neoplastic). Any
 * non-black pixel is polyp. The masks keep their published `.jpeg` names, written as JPEG
 * quality 100 from the binary mask (see masks.ts encodeMask).
 */
import { binarizeNonBlack, readPixels } from './masks.js';
import { pairedConverter } from './paired.js';

export const bkaiIgh = pairedConverter({
  name: 'bkai-igh',
  title: 'BKAI-IGH NeoPolyp (train/ + train_gt/, colour-coded masks)',
  className: 'polyp',
  paperSizes: { train: 800, val: 100, test: 100 },
  layouts: [[{ images: 'train/train', masks: 'train_gt/train_gt' }], [{ images: 'train', masks: 'train_gt' }]],
  maskName: (m) => m.slice(m.lastIndexOf('/') + 1),
  mask: async (file) => ({ mask: binarizeNonBlack(await readPixels(file)), copy: false }),
});
