import { isLearnerName, learnerEntry, learnersInPaperOrder, learnersWithOption } from '../learners/registry.js';

/**
 * What the TuneVLSeg paper (ACCV 2024) fixes about its tables: the display names, the order
 * of rows and columns, the dataset groups of the header, and the end-to-end fine-tuning
 * reference rows of Table 3 (`../shared/paper.md`). Identifiers not listed here are shown as
 * they are and ordered after the known ones.
 */

export const MODEL_LABELS: Readonly<Record<string, string>> = { clipseg: 'CLIPSeg', cris: 'CRIS' };

export const DATASET_LABELS: Readonly<Record<string, string>> = {
  bkai: 'BKAI',
  clinicdb: 'ClinicDB',
  kvasir: 'Kvasir',
  dfu: 'DFU',
  isic: 'ISIC',
  busi: 'BUSI',
  camus: 'CAMUS',
  chexlocalize: 'CheXlocalize',
  cityscapes: 'Cityscapes',
  pascalvoc: 'PascalVOC',
};

/** Row order of Tables 3 and 5: CLIPSeg's learners, then CRIS's (textual only). */
export const MODEL_ORDER: readonly string[] = ['clipseg', 'cris'];
/** The learners' row order: their registry paper order (src/learners/registry.ts). */
export const learnerOrder = (): readonly string[] => learnersInPaperOrder();
export const DATASET_ORDER: readonly string[] = Object.keys(DATASET_LABELS);

/** The column groups of the paper's header. */
export const DATASET_GROUPS: ReadonlyArray<{ readonly label: string; readonly datasets: readonly string[] }> = [
  { label: 'Non-Radiology', datasets: ['bkai', 'clinicdb', 'kvasir', 'dfu', 'isic'] },
  { label: 'Radiology', datasets: ['busi', 'camus', 'chexlocalize'] },
  { label: 'Open Domain', datasets: ['cityscapes', 'pascalvoc'] },
];

/** Ablation names the report knows: Table 4 (MaPLe initialised from N(0, 0.02)) and Table 5. */
export const ABLATION_INIT_GAUSSIAN = 'init-gaussian';
export const ABLATION_NO_UPSAMPLER = 'no-upsampler';

/**
 * Table 4's learner: the first learner of the paper's row order that starts from a context
 * initializer phrase (MaPLe), since the ablation replaces that phrase by N(0, 0.02).
 */
export function initAblationLearner(): string {
  const withInit = new Set(learnersWithOption('contextInitializer'));
  return learnersInPaperOrder().find((l) => withInit.has(l)) ?? '';
}

/** Table 3's end-to-end fine-tuning rows (test Dice, %), from the paper. */
export const PAPER_E2E: ReadonlyArray<{ readonly model: string; readonly values: Readonly<Record<string, number>> }> = [
  {
    model: 'cris',
    values: {
      bkai: 92.4,
      clinicdb: 91.69,
      kvasir: 91.39,
      dfu: 76.13,
      isic: 91.94,
      busi: 69.31,
      camus: 91.09,
      chexlocalize: 62.57,
      cityscapes: 63.5,
      pascalvoc: 75.73,
    },
  },
  {
    model: 'clipseg',
    values: {
      bkai: 86.47,
      clinicdb: 88.74,
      kvasir: 89.51,
      dfu: 73.24,
      isic: 92.12,
      busi: 64.32,
      camus: 88.85,
      chexlocalize: 59.56,
      cityscapes: 59.43,
      pascalvoc: 78.88,
    },
  },
];

export const E2E_LABEL = 'E2E finetune';

const label = (table: Readonly<Record<string, string>>, id: string, override?: Readonly<Record<string, string>>): string =>
  override?.[id] ?? table[id] ?? id;

export const modelLabel = (id: string, o?: Readonly<Record<string, string>>): string => label(MODEL_LABELS, id, o);
/** A learner's table label: the bench's override, else its registry label, else the id. */
export const learnerLabel = (id: string, o?: Readonly<Record<string, string>>): string =>
  o?.[id] ?? (isLearnerName(id) ? learnerEntry(id).label : id);
export const datasetLabel = (id: string, o?: Readonly<Record<string, string>>): string => label(DATASET_LABELS, id, o);

/** Sorts ids by a known order; unknown ids keep their relative order, after the known ones. */
export function orderBy(ids: readonly string[], order: readonly string[]): string[] {
  const rank = (id: string): number => {
    const i = order.indexOf(id);
    return i < 0 ? order.length : i;
  };
  return ids
    .map((id, i) => ({ id, i }))
    .sort((a, b) => rank(a.id) - rank(b.id) || a.i - b.i)
    .map((x) => x.id);
}
