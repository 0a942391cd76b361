/**
 * What a dataset converter gives the shared pipeline (./run.ts): the raw samples it found,
 * each able to decode its own masks. The pipeline chooses splits and prompts, writes the
 * files and the annotations, and runs `data check`; a converter only knows its raw layout.
 */
import type { DatasetLayout, ReferenceEvaluation, Split } from '../format.js';

/** A binary mask: 0 or 255 per pixel, row-major. */
export interface BinaryMask {
  data: Uint8Array;
  width: number;
  height: number;
}

/** One output entry of a sample: a binary mask and the class it shows. */
export interface MaskOut {
  /** Output name under the split's masks folder, e.g. `12.png` or `mask_2/x_gt.png`. */
  maskName: string;
  /** Class name used by the prompt generator (`polyp`, `car`, `left ventricle`). */
  className: string;
  mask: BinaryMask;
  /** The raw file already is this exact mask in the output's format: copy it, do not re-encode. */
  copyFrom?: string;
  /** What the decoder mended to read the raw file (a TIFF header), if anything. */
  repair?: string;
  /** The raw mask's gray levels when they are not only 0 and 255 (a JPEG mask copied as is): the attribute sizes count only its 255s, as medvlsm's do. */
  gray?: Uint8Array;
}

/** How the sample's image reaches the output. */
export type ImageSource =
  /** Copied byte for byte (the output name keeps the file's format). */
  | { kind: 'copy'; file: string }
  /** Decoded (../image.ts's decoder) and written as PNG (TIFF frames, 16-bit, ...); colour as 3-channel RGB. */
  | { kind: 'png'; file: string }
  /** Pixels decoded by the converter (MetaImage, NIfTI), written as PNG. */
  | { kind: 'pixels'; file: string; load: () => Promise<{ data: Uint8Array; width: number; height: number; channels: 1 | 3 }> };

export interface RawSample {
  /** The raw file that names this sample in messages. */
  id: string;
  /** Output name under the split's images folder. */
  imageName: string;
  image: ImageSource;
  /** Decodes the masks (the raw's label map, colour code, JSON, several files merged ...). */
  masks: () => Promise<MaskOut[]>;
  /** The split the raw layout fixes (VOC's train.txt/val.txt), if any. */
  split?: Split;
  /** Splits the sample may be drawn into when the raw fixes none (ISIC's test set: test only). */
  candidates?: readonly Split[];
  /** Samples of one group stay in one split (one CAMUS patient, one CheXpert patient, one ClinicDB video sequence). */
  group?: string;
  /** Per-split folder this sample's files go to (`train` -> images/train); see Converter.layout. */
  folder?: string;
}

/** Raised when a raw folder is not laid out as a converter expects; lists what was expected. */
export class LayoutError extends Error {
  constructor(dataset: string, rawDir: string, problem: string, expected: readonly string[]) {
    super(`${dataset}: ${rawDir}: ${problem}\nexpected (one of):\n${expected.map((e) => `  ${e}`).join('\n')}`);
    this.name = 'LayoutError';
  }
}

export interface Converter {
  /** The name `data convert <name>` takes. */
  name: string;
  /** One line for --help and docs. */
  title: string;
  /** The raw layouts this converter reads (shown when a folder matches none). */
  expected: readonly string[];
  /** The paper's train/val/test sizes (entries); splits without --anns follow their ratios. */
  paperSizes: Readonly<Record<Split, number>>;
  /** The class vocabulary (the single class of binary datasets). */
  classes: readonly string[];
  /** What a sample's group is (a CAMUS "patient", a ClinicDB "video sequence"), when the converter sets groups. */
  groupWord?: string;
  /** Finds the raw samples; throws LayoutError when the folder matches no expected layout. */
  scan(rawDir: string): Promise<ScanResult>;
  /** How the original evaluates this dataset when its data config differs from the default (written to dataset.json). */
  reference?: ReferenceEvaluation;
}

export interface ScanResult {
  samples: RawSample[];
  /** Raw files left out, each with the reason (a mask without an image, an unlisted id ...). */
  skipped: string[];
  /** Per-split folders of the output (CAMUS's training/testing: images/train, images/test). */
  layout?: DatasetLayout;
}
