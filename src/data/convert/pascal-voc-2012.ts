/**
 * PASCAL VOC 2012 segmentation (http://host.robots.ox.ac.uk/pascal/VOC/voc2012/):
 * `JPEGImages/<id>.jpg`, palette PNGs `SegmentationClass/<id>.png` (index 0 background, 1-20
 * the classes, 255 the void border) and `ImageSets/Segmentation/{train,val}.txt`. As the
 * original's binarize_pascal_voc_seg.py does, each class present in an image gives one binary
 * mask, `<class>/<id>.png`, with the class name as its prompt; train.txt and val.txt are the
 * splits (the original evaluates on val; there is no test split).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { colourMask, hasForeground, readPixels } from './masks.js';
import { firstLayout, isFile } from './scan.js';
import { type Converter, LayoutError, type MaskOut, type RawSample } from './types.js';

export const VOC_CLASSES = [
  'aeroplane',
  'bicycle',
  'bird',
  'boat',
  'bottle',
  'bus',
  'car',
  'cat',
  'chair',
  'cow',
  'diningtable',
  'dog',
  'horse',
  'motorbike',
  'person',
  'pottedplant',
  'sheep',
  'sofa',
  'train',
  'tvmonitor',
] as const;

/** The VOC palette colour of label index i (the bit-interleaving of the devkit's colormap). */
export function vocColour(i: number): [number, number, number] {
  let r = 0;
  let g = 0;
  let b = 0;
  let c = i;
  for (let j = 0; j < 8; j++) {
    r |= ((c >> 0) & 1) << (7 - j);
    g |= ((c >> 1) & 1) << (7 - j);
    b |= ((c >> 2) & 1) << (7 - j);
    c >>= 3;
  }
  return [r, g, b];
}

const EXPECTED = [
  'VOCdevkit/VOC2012/{JPEGImages,SegmentationClass,ImageSets/Segmentation}',
  'VOC2012/{...} or the same folders at the top',
];

export const pascalVoc2012: Converter = {
  name: 'pascal-voc-2012',
  title: 'PASCAL VOC 2012 (palette masks -> one binary mask per present class)',
  expected: EXPECTED,
  paperSizes: { train: 2170, val: 2148, test: 0 },
  classes: VOC_CLASSES,
  // The original reads it with configs/data/image_dir_text_mask_jpg.yaml: val_ds and test_ds take
  // ${train_transforms} and test_ds reads images/validation (issue 24 row 8).
  reference: { dataConfig: 'configs/data/image_dir_text_mask_jpg.yaml', evalTransforms: 'train', testSplit: 'val' },
  async scan(rawDir) {
    const root = path.resolve(rawDir);
    const cands = ['VOCdevkit/VOC2012', 'VOC2012', '.'].map((b) => ({
      images: path.join(b, 'JPEGImages'),
      masks: path.join(b, 'SegmentationClass'),
      sets: path.join(b, 'ImageSets/Segmentation'),
    }));
    const found = await firstLayout(root, cands);
    if (found === null)
      throw new LayoutError('pascal-voc-2012', root, 'no JPEGImages/, SegmentationClass/ and ImageSets/Segmentation/ found', EXPECTED);
    const samples: RawSample[] = [];
    const skipped: string[] = [];
    for (const split of ['train', 'val'] as const) {
      const list = path.join(root, found.sets, `${split}.txt`);
      const text = await fs.readFile(list, 'utf8').catch(() => null);
      if (text === null) throw new LayoutError('pascal-voc-2012', root, `${path.relative(root, list)} not found`, EXPECTED);
      for (const id of text
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter((l) => l !== '')) {
        const image = path.join(root, found.images, `${id}.jpg`);
        const maskFile = path.join(root, found.masks, `${id}.png`);
        if (!(await isFile(image)) || !(await isFile(maskFile))) {
          skipped.push(
            `${path.relative(root, list)}: ${id} is listed but ${(await isFile(image)) ? path.relative(root, maskFile) : path.relative(root, image)} is missing; left out`,
          );
          continue;
        }
        samples.push({
          id: path.relative(root, maskFile),
          imageName: `${id}.jpg`,
          image: { kind: 'copy', file: image },
          split,
          masks: async (): Promise<MaskOut[]> => {
            const p = await readPixels(maskFile);
            if (p.channels < 3) throw new Error(`${maskFile}: expected a palette (colour) PNG, got ${p.channels} channel(s)`);
            const out: MaskOut[] = [];
            VOC_CLASSES.forEach((cls, k) => {
              const mask = colourMask(p, vocColour(k + 1));
              if (hasForeground(mask)) out.push({ maskName: `${cls}/${id}.png`, className: cls, mask });
            });
            return out;
          },
        });
      }
    }
    return { samples, skipped };
  },
};
