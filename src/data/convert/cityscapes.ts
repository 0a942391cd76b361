/**
 * Cityscapes (https://www.cityscapes-dataset.com/; registration and its licence required):
 * `leftImg8bit/{train,val}/<city>/<x>_leftImg8bit.png` and `gtFine/{train,val}/<city>/<x>_gtFine_labelIds.png`.
 * As the original's binarize_cityscapes.py does, each of the 19 evaluated classes present in an
 * image (by label id) gives one binary mask `<class>/<x>.png`, with the class name as prompt;
 * images become `<x>.png`. train and val are the splits (no public test labels).
 */
import path from 'node:path';
import { labelMask, labelsPresent, readPixels } from './masks.js';
import { firstLayout, isFile, listFiles } from './scan.js';
import { type Converter, LayoutError, type MaskOut, type RawSample } from './types.js';

/** The 19 classes Cityscapes evaluates, with their label ids (labelIds PNG values). */
export const CITYSCAPES_CLASSES: readonly { id: number; name: string }[] = [
  { id: 7, name: 'road' },
  { id: 8, name: 'sidewalk' },
  { id: 11, name: 'building' },
  { id: 12, name: 'wall' },
  { id: 13, name: 'fence' },
  { id: 17, name: 'pole' },
  { id: 19, name: 'traffic light' },
  { id: 20, name: 'traffic sign' },
  { id: 21, name: 'vegetation' },
  { id: 22, name: 'terrain' },
  { id: 23, name: 'sky' },
  { id: 24, name: 'person' },
  { id: 25, name: 'rider' },
  { id: 26, name: 'car' },
  { id: 27, name: 'truck' },
  { id: 28, name: 'bus' },
  { id: 31, name: 'train' },
  { id: 32, name: 'motorcycle' },
  { id: 33, name: 'bicycle' },
];

const EXPECTED = ['leftImg8bit/{train,val}/<city>/<x>_leftImg8bit.png + gtFine/{train,val}/<city>/<x>_gtFine_labelIds.png'];

export const cityscapes: Converter = {
  name: 'cityscapes',
  title: 'Cityscapes (gtFine label ids -> one binary mask per present class)',
  expected: EXPECTED,
  paperSizes: { train: 34723, val: 6005, test: 0 },
  classes: CITYSCAPES_CLASSES.map((c) => c.name),
  // The original reads it with configs/data/image_dir_text_mask_png.yaml: val_ds and test_ds take
  // ${train_transforms} and test_ds reads images/validation (issue 24 row 8).
  reference: { dataConfig: 'configs/data/image_dir_text_mask_png.yaml', evalTransforms: 'train', testSplit: 'val' },
  async scan(rawDir) {
    const root = path.resolve(rawDir);
    const found = await firstLayout(root, [{ images: 'leftImg8bit', masks: 'gtFine' }]);
    if (found === null) throw new LayoutError('cityscapes', root, 'no leftImg8bit/ and gtFine/ found', EXPECTED);
    const samples: RawSample[] = [];
    const skipped: string[] = [];
    for (const split of ['train', 'val'] as const) {
      const gtDir = path.join(root, 'gtFine', split);
      const labelFiles = (await listFiles(gtDir, new Set(['.png']), true).catch(() => [])).filter((f) =>
        f.endsWith('_gtFine_labelIds.png'),
      );
      for (const lf of labelFiles) {
        const city = path.basename(path.dirname(lf));
        const x = path.basename(lf).replace(/_gtFine_labelIds\.png$/, '');
        const image = path.join(root, 'leftImg8bit', split, city, `${x}_leftImg8bit.png`);
        if (!(await isFile(image))) {
          skipped.push(`${path.relative(root, lf)}: mask without an image (${path.relative(root, image)} not found); left out`);
          continue;
        }
        samples.push({
          id: path.relative(root, lf),
          imageName: `${x}.png`,
          image: { kind: 'copy', file: image },
          split,
          masks: async (): Promise<MaskOut[]> => {
            const p = await readPixels(lf);
            const present = new Set(labelsPresent(p));
            return CITYSCAPES_CLASSES.filter((c) => present.has(c.id)).map((c) => ({
              maskName: `${c.name}/${x}.png`,
              className: c.name,
              mask: labelMask(p, c.id),
            }));
          },
        });
      }
    }
    if (samples.length === 0 && skipped.length === 0)
      throw new LayoutError('cityscapes', root, 'no *_gtFine_labelIds.png under gtFine/train or gtFine/val', EXPECTED);
    return { samples, skipped };
  },
};
