/**
 * CAMUS echocardiography (Leclerc et al. 2019, https://www.creatis.insa-lyon.fr/Challenge/camus/):
 * per patient, 2-D frames `patient<n>_{2CH,4CH}_{ED,ES}` with label maps `..._gt`, whose values
 * 1, 2, 3 are the left ventricle cavity, the myocardium and the left atrium. Each frame gives
 * one binary entry per structure, named as the paper names them, stored as medvlsm does:
 * `mask_1/` (left ventricle), `mask_2/` (myocardium), `mask_3/` (left atrium).
 *
 * Layouts: the 2019 release (`training/`, `testing/`, MetaImage `.mhd` + `.raw`): its two
 * subsets reuse patient numbers, so the output keeps them apart in per-split folders as the
 * original does (images/train for train and val, images/test for test; see dataset.json).
 * The 2023 release (`database_nifti/`, NIfTI `.nii.gz`) or frames exported as PNG go to
 * images/ and masks/; its patients are split by the paper's ratios, whole patients at a time.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { DatasetLayout } from '../format.js';
import { labelMask, readPixels } from './masks.js';
import { fullExt, isDir, listFiles, stem } from './scan.js';
import { type Converter, LayoutError, type MaskOut, type RawSample } from './types.js';
import { type Frame, frameToGray, readMetaImage, readNifti } from './volume.js';

/** Label value -> (output folder, class name as the paper names it). */
export const CAMUS_STRUCTURES: readonly { label: number; folder: string; className: string }[] = [
  { label: 1, folder: 'mask_1', className: 'left ventricle' },
  { label: 2, folder: 'mask_2', className: 'myocardium' },
  { label: 3, folder: 'mask_3', className: 'left atrium' },
];

const FRAME_RE = /^(patient\d+)_(2CH|4CH)_(ED|ES)$/;
const EXTS = new Set(['.mhd', '.mha', '.nii', '.nii.gz', '.png']);
const EXPECTED = [
  'training/patient<n>/patient<n>_{2CH,4CH}_{ED,ES}.mhd + _gt.mhd (and testing/ likewise): the 2019 release',
  'database_nifti/patient<n>/patient<n>_{2CH,4CH}_{ED,ES}.nii.gz + _gt.nii.gz: the 2023 release',
  'patient<n>/ folders directly, frames as .mhd, .nii(.gz) or .png',
];

const PER_SPLIT: DatasetLayout = {
  train: { images: 'images/train', masks: 'masks/train' },
  val: { images: 'images/train', masks: 'masks/train' },
  test: { images: 'images/test', masks: 'masks/test' },
};

async function readFrame(file: string): Promise<Frame> {
  const ext = fullExt(file);
  if (ext === '.mhd' || ext === '.mha') return readMetaImage(file);
  if (ext === '.png') {
    const p = await readPixels(file);
    const values = new Float64Array(p.width * p.height);
    for (let i = 0; i < values.length; i++) values[i] = p.data[i * p.channels] as number;
    return { values, width: p.width, height: p.height };
  }
  return readNifti(file);
}

async function patientDirs(dir: string): Promise<string[]> {
  const ents = await fs.readdir(dir, { withFileTypes: true });
  return ents
    .filter((e) => e.isDirectory() && /^patient\d+$/.test(e.name))
    .map((e) => path.join(dir, e.name))
    .sort();
}

export const camus: Converter = {
  name: 'camus',
  title: 'CAMUS echocardiography (label maps 1/2/3 -> left ventricle, myocardium, left atrium)',
  expected: EXPECTED,
  paperSizes: { train: 4800, val: 600, test: 600 },
  classes: CAMUS_STRUCTURES.map((s) => s.className),
  groupWord: 'patient',
  async scan(rawDir) {
    const root = path.resolve(rawDir);
    let subsets: { dir: string; folder?: string; candidates?: ('train' | 'val' | 'test')[] }[];
    let layout: DatasetLayout | undefined;
    if (await isDir(path.join(root, 'training'))) {
      subsets = [{ dir: path.join(root, 'training'), folder: 'train', candidates: ['train', 'val'] }];
      if (await isDir(path.join(root, 'testing'))) subsets.push({ dir: path.join(root, 'testing'), folder: 'test', candidates: ['test'] });
      layout = PER_SPLIT;
    } else if (await isDir(path.join(root, 'database_nifti'))) {
      subsets = [{ dir: path.join(root, 'database_nifti') }];
    } else {
      subsets = [{ dir: root }];
    }
    const samples: RawSample[] = [];
    const skipped: string[] = [];
    for (const sub of subsets) {
      const patients = await patientDirs(sub.dir);
      for (const pdir of patients) {
        const files = await listFiles(pdir, EXTS);
        const byStem = new Map(files.map((f) => [stem(f), f]));
        for (const [s, file] of byStem) {
          const m = FRAME_RE.exec(s);
          if (m === null) continue; // sequences, _gt files, info files
          const gt = byStem.get(`${s}_gt`);
          if (gt === undefined) {
            skipped.push(`${path.relative(root, file)}: no label map ${s}_gt next to it; left out`);
            continue;
          }
          samples.push({
            id: path.relative(root, file),
            imageName: `${s}.png`,
            image: {
              kind: 'pixels',
              file,
              load: async () => {
                const f = await readFrame(file);
                return { data: frameToGray(f), width: f.width, height: f.height, channels: 1 };
              },
            },
            group: `${sub.folder ?? ''}/${m[1]}`,
            ...(sub.folder !== undefined ? { folder: sub.folder } : {}),
            ...(sub.candidates !== undefined ? { candidates: sub.candidates } : {}),
            masks: async (): Promise<MaskOut[]> => {
              const f = await readFrame(gt);
              const data = Uint8Array.from(f.values, (v) => (v >= 0 && v <= 255 ? Math.round(v) : 0));
              const labels = { data, width: f.width, height: f.height, channels: 1, format: 'label' };
              return CAMUS_STRUCTURES.map((st) => ({
                maskName: `${st.folder}/${s}_gt.png`,
                className: st.className,
                mask: labelMask(labels, st.label),
              }));
            },
          });
        }
      }
    }
    if (samples.length === 0 && skipped.length === 0)
      throw new LayoutError('camus', root, 'no patient<n>/ folder with frames found', EXPECTED);
    return { samples, skipped, ...(layout !== undefined ? { layout } : {}) };
  },
};
