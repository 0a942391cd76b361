/**
 * Datasets distributed as an image folder and a mask folder (per subset), one binary mask per
 * image matched by name: Kvasir-SEG, CVC-ClinicDB, BKAI-IGH, ISIC 2016, DFU 2022. Each is a
 * spec for `pairedConverter`; what differs is where the folders are, how a mask's name maps to
 * its image, the output names, and how a raw mask becomes binary.
 */
import path from 'node:path';
import type { Split } from '../format.js';
import { binarizeGray, readPixels } from './masks.js';
import { firstLayout, listFiles, pairByStem, stem } from './scan.js';
import { type BinaryMask, type Converter, type ImageSource, LayoutError, type MaskOut, type RawSample } from './types.js';

export interface Subset {
  images: string;
  masks: string;
  /** Splits the subset's images may be drawn into (ISIC's official test set: test only). */
  candidates?: readonly Split[];
}

export interface PairedSpec {
  name: string;
  title: string;
  className: string;
  paperSizes: Readonly<Record<Split, number>>;
  /** Candidate raw layouts (folders relative to the raw folder), tried in order. */
  layouts: readonly (readonly Subset[])[];
  /** The stem of the image a mask file belongs to. Default: the mask's stem. */
  maskKey?: (maskFile: string) => string;
  /** Output image name. Default: the raw file name. */
  imageName?: (imageFile: string) => string;
  /** Output mask name (the published one). */
  maskName: (maskFile: string, imageFile: string) => string;
  /** How the image reaches the output. Default: copied. */
  image?: (imageFile: string) => ImageSource;
  /** The mask, binary, with `copyFrom` when the raw file can be copied as it is. */
  mask: (maskFile: string, maskName: string) => Promise<{ mask: BinaryMask; copy: boolean; repair?: string; gray?: Uint8Array }>;
  /** The group of an image (frames of one video sequence stay in one split without --anns). */
  group?: (imageFile: string) => string | undefined;
  /** What a group is, for messages ("video sequence"). */
  groupWord?: string;
}

function describe(layout: readonly Subset[]): string {
  return layout.map((s) => `${s.images}/ + ${s.masks}/`).join(', ');
}

export function pairedConverter(spec: PairedSpec): Converter {
  const expected = spec.layouts.map(describe);
  return {
    name: spec.name,
    title: spec.title,
    expected,
    paperSizes: spec.paperSizes,
    classes: [spec.className],
    ...(spec.groupWord !== undefined ? { groupWord: spec.groupWord } : {}),
    async scan(rawDir) {
      const root = path.resolve(rawDir);
      let layout: readonly Subset[] | null = null;
      for (const l of spec.layouts) {
        const flat = Object.fromEntries(
          l.flatMap((s, i) => [
            [`i${i}`, s.images],
            [`m${i}`, s.masks],
          ]),
        );
        if ((await firstLayout(root, [flat])) !== null) {
          layout = l;
          break;
        }
      }
      if (layout === null) throw new LayoutError(spec.name, root, 'no known layout found', expected);
      const samples: RawSample[] = [];
      const skipped: string[] = [];
      for (const sub of layout) {
        const images = await listFiles(path.join(root, sub.images));
        const masks = await listFiles(path.join(root, sub.masks));
        if (images.length === 0) throw new LayoutError(spec.name, root, `${sub.images}/ holds no images`, expected);
        const paired = pairByStem(images, masks, spec.maskKey ?? stem, root);
        skipped.push(...paired.skipped);
        for (const {
          image,
          masks: [maskFile],
        } of paired.pairs) {
          const m = maskFile as string;
          const maskName = spec.maskName(m, image);
          const group = spec.group?.(image);
          samples.push({
            id: path.relative(root, image),
            imageName: spec.imageName?.(image) ?? path.basename(image),
            image: spec.image?.(image) ?? { kind: 'copy', file: image },
            ...(sub.candidates !== undefined ? { candidates: sub.candidates } : {}),
            ...(group !== undefined ? { group } : {}),
            masks: async (): Promise<MaskOut[]> => {
              const { mask, copy, repair, gray } = await spec.mask(m, maskName);
              return [
                {
                  maskName,
                  className: spec.className,
                  mask,
                  ...(copy ? { copyFrom: m } : {}),
                  ...(repair !== undefined ? { repair } : {}),
                  ...(gray !== undefined ? { gray } : {}),
                },
              ];
            },
          });
        }
      }
      return { samples, skipped };
    },
  };
}

/** gray > 127 (0/1 masks: value 1); copyable when the file is a one-channel 0/255 PNG and the output is PNG. */
export async function grayBinary(
  file: string,
  maskName: string,
): Promise<{ mask: BinaryMask; copy: boolean; repair?: string; gray?: Uint8Array }> {
  const p = await readPixels(file);
  const { mask, exact, gray } = binarizeGray(p);
  return {
    mask,
    copy: exact && p.format === 'png' && path.extname(maskName).toLowerCase() === '.png',
    ...(p.repair !== undefined ? { repair: p.repair } : {}),
    ...(exact ? {} : { gray }),
  };
}

/** For outputs named `<stem>.png`: a PNG is copied, anything else (TIFF) re-encoded as PNG. */
export function asPng(file: string): ImageSource {
  return path.extname(file).toLowerCase() === '.png' ? { kind: 'copy', file } : { kind: 'png', file };
}
