/**
 * DFUC 2022 (diabetic foot ulcers, https://dfu-challenge.github.io/dfuc2022.html; licence
 * agreement with Manchester Metropolitan University): `DFUC2022_train_images/<n>.jpg` and
 * `DFUC2022_train_masks/<n>.png` (2,000 labelled images; the challenge's test masks are not
 * public, so the paper's 1600/200/200 all come from these).
 */
import { grayBinary, pairedConverter } from './paired.js';
import { stem } from './scan.js';

const pair = (dir: string) => [{ images: `${dir}DFUC2022_train_images`, masks: `${dir}DFUC2022_train_masks` }];

export const dfu2022 = pairedConverter({
  name: 'dfu-2022',
  title: 'DFUC 2022 foot ulcers (DFUC2022_train_images/ + DFUC2022_train_masks/)',
  className: 'foot ulcer',
  paperSizes: { train: 1600, val: 200, test: 200 },
  layouts: [pair(''), pair('DFUC2022_train_release/'), [{ images: 'images', masks: 'masks' }]],
  maskName: (m) => `${stem(m)}.png`,
  mask: grayBinary,
});
