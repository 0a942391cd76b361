/**
 * ISIC 2016 Part 1 (lesion segmentation, https://challenge.isic-archive.com/data/#2016):
 * `ISBI2016_ISIC_Part1_{Training,Test}_Data/ISIC_<n>.jpg` and `..._GroundTruth/ISIC_<n>_Segmentation.png`.
 * The official test set (379) stays the test split; the 900 training images give train and val.
 */
import { grayBinary, pairedConverter } from './paired.js';
import { stem } from './scan.js';

export const isic2016 = pairedConverter({
  name: 'isic-2016',
  title: 'ISIC 2016 skin lesions (ISBI2016_ISIC_Part1_* folders)',
  className: 'skin lesion',
  paperSizes: { train: 810, val: 90, test: 379 },
  layouts: [
    [
      { images: 'ISBI2016_ISIC_Part1_Training_Data', masks: 'ISBI2016_ISIC_Part1_Training_GroundTruth', candidates: ['train', 'val'] },
      { images: 'ISBI2016_ISIC_Part1_Test_Data', masks: 'ISBI2016_ISIC_Part1_Test_GroundTruth', candidates: ['test'] },
    ],
    [{ images: 'ISBI2016_ISIC_Part1_Training_Data', masks: 'ISBI2016_ISIC_Part1_Training_GroundTruth' }],
  ],
  maskKey: (m) => stem(m).replace(/_Segmentation$/, ''),
  maskName: (m) => m.slice(m.lastIndexOf('/') + 1),
  mask: grayBinary,
});
