/**
 * BUSI, Breast Ultrasound Images (Al-Dhabyani et al. 2020; Kaggle aryashah2k/breast-ultrasound-images-dataset):
 * `Dataset_BUSI_with_GT/{benign,malignant,normal}/<class> (<n>).png` with `<class> (<n>)_mask.png`
 * and, for images with several lesions, `_mask_1.png`, `_mask_2.png` ... which are merged
 * (pixel-wise union). Output names follow medvlsm: `<n>_<class>.png` for image and mask.
 * Normal images have an all-black mask and stay in the dataset (as in medvlsm's splits).
 */
import path from 'node:path';
import { binarizeGray, readPixels, unionMasks } from './masks.js';
import { isDir, listFiles } from './scan.js';
import { type Converter, LayoutError, type RawSample } from './types.js';

const CLASSES = ['benign', 'malignant', 'normal'] as const;
const EXPECTED = [
  'Dataset_BUSI_with_GT/{benign,malignant,normal}/<class> (<n>).png + <class> (<n>)_mask[_k].png',
  '{benign,malignant,normal}/ (the same, without the top folder)',
];
/** `benign (12)_mask_1.png` -> image `benign (12)`; the image itself has no `_mask`. */
const MASK_RE = /^(.*)_mask(?:_\d+)?$/;

export const busi: Converter = {
  name: 'busi',
  title: 'BUSI breast ultrasound (benign/, malignant/, normal/ with _mask[_N] files)',
  expected: EXPECTED,
  paperSizes: { train: 624, val: 78, test: 78 },
  classes: ['benign tumor', 'malignant tumor', 'tumor'],
  async scan(rawDir) {
    const root = path.resolve(rawDir);
    const base = (await isDir(path.join(root, 'Dataset_BUSI_with_GT'))) ? path.join(root, 'Dataset_BUSI_with_GT') : root;
    const present = [];
    for (const c of CLASSES) if (await isDir(path.join(base, c))) present.push(c);
    if (present.length === 0) throw new LayoutError('busi', root, 'no benign/, malignant/ or normal/ folder found', EXPECTED);
    const samples: RawSample[] = [];
    const skipped: string[] = [];
    for (const cls of present) {
      const files = await listFiles(path.join(base, cls), new Set(['.png']));
      const images = new Map<string, string>();
      const masks = new Map<string, string[]>();
      for (const f of files) {
        const s = path.basename(f, path.extname(f));
        const m = MASK_RE.exec(s);
        if (m === null) images.set(s, f);
        else {
          const key = m[1] as string;
          if (!masks.has(key)) masks.set(key, []);
          masks.get(key)?.push(f);
        }
      }
      for (const [key, ms] of masks)
        if (!images.has(key))
          for (const m of ms) skipped.push(`${path.relative(root, m)}: mask without an image (no ${key}.png); left out`);
      for (const [key, img] of images) {
        const ms = masks.get(key);
        if (ms === undefined) {
          skipped.push(`${path.relative(root, img)}: no mask found for this image; left out`);
          continue;
        }
        const n = /\((\d+)\)/.exec(key)?.[1] ?? key.replace(/\W+/g, '_');
        const name = `${n}_${cls}.png`;
        const className = cls === 'normal' ? 'tumor' : `${cls} tumor`;
        samples.push({
          id: path.relative(root, img),
          imageName: name,
          image: { kind: 'copy', file: img },
          masks: async () => {
            const decoded = await Promise.all(ms.map(async (f) => binarizeGray(await readPixels(f))));
            const merged = unionMasks(decoded.map((d) => d.mask));
            if (merged === null)
              throw new Error(`${path.relative(root, img)}: its masks ${ms.map((f) => path.basename(f)).join(', ')} differ in size`);
            const only = decoded.length === 1 && decoded[0]?.exact === true;
            return [{ maskName: name, className, mask: merged, ...(only ? { copyFrom: ms[0] as string } : {}) }];
          },
        });
      }
    }
    return { samples, skipped };
  },
};
