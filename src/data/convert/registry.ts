/**
 * The converters `data convert <name>` knows: the one place that lists them. A new dataset is
 * one module in this folder and one line here.
 */
import { bkaiIgh } from './bkai-igh.js';
import { busi } from './busi.js';
import { camus } from './camus.js';
import { chexlocalize } from './chexlocalize.js';
import { cityscapes } from './cityscapes.js';
import { cvcClinicDb } from './cvc-clinicdb.js';
import { dfu2022 } from './dfu-2022.js';
import { isic2016 } from './isic-2016.js';
import { kvasirSeg } from './kvasir-seg.js';
import { pascalVoc2012 } from './pascal-voc-2012.js';
import type { Converter } from './types.js';

export const CONVERTERS: readonly Converter[] = [
  kvasirSeg,
  cvcClinicDb,
  bkaiIgh,
  isic2016,
  dfu2022,
  busi,
  camus,
  chexlocalize,
  pascalVoc2012,
  cityscapes,
];

export function getConverter(name: string): Converter {
  const c = CONVERTERS.find((x) => x.name === name);
  if (c === undefined) throw new Error(`unknown dataset ${JSON.stringify(name)}; known: ${CONVERTERS.map((x) => x.name).join(', ')}`);
  return c;
}
