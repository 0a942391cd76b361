/**
 * Kvasir-SEG (Simula, https://datasets.simula.no/kvasir-seg/): the zip's `images/` and
 * `masks/` (JPEG, same names) plus `kavsir_bboxes.json`. Images and masks are copied as they
 * are: medvlsm's annotations name the JPEG masks, and their few mid-grey edge levels are
 * thresholded at 127 like every mask.
 */
import { readPixels, binarizeGray } from './masks.js';
import { pairedConverter } from './paired.js';

export const kvasirSeg = pairedConverter({
  name: 'kvasir-seg',
  title: 'Kvasir-SEG polyps (images/, masks/ JPEG)',
  className: 'polyp',
  paperSizes: { train: 800, val: 100, test: 100 },
  layouts: [[{ images: 'images', masks: 'masks' }], [{ images: 'Kvasir-SEG/images', masks: 'Kvasir-SEG/masks' }]],
  maskName: (m) => m.slice(m.lastIndexOf('/') + 1),
  mask: async (file) => ({ mask: binarizeGray(await readPixels(file)).mask, copy: true }),
});
