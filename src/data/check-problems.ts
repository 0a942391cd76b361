/**
 * What `data check` reports (the problem codes, their severities, the mask rules) and the list
 * every check step reports into.
 */
import type { FormatIssue, Split } from './format.js';

export type Severity = 'error' | 'warning';

export type ProblemCode =
  | 'missing_folder'
  | 'missing_split'
  | 'malformed_json'
  | 'invalid_entry'
  | 'empty_split'
  | 'path_escape'
  | 'missing_image'
  | 'missing_mask'
  | 'unreadable_image'
  | 'unreadable_mask'
  | 'size_mismatch'
  | 'non_binary_mask'
  | 'mask_values_low'
  | 'empty_mask'
  | 'empty_prompt'
  | 'duplicate_entry'
  | 'split_overlap'
  | 'repaired_file'
  | 'identical_channels'
  | 'translucent_alpha'
  | 'mask_in_alpha';

/** Severity of each problem: errors fail `data check` (exit 1), warnings do not. */
export const PROBLEM_SEVERITY: Readonly<Record<ProblemCode, Severity>> = {
  missing_folder: 'error',
  missing_split: 'error',
  malformed_json: 'error',
  invalid_entry: 'error',
  empty_split: 'warning',
  path_escape: 'error',
  missing_image: 'error',
  missing_mask: 'error',
  unreadable_image: 'error',
  unreadable_mask: 'error',
  size_mismatch: 'error',
  non_binary_mask: 'error',
  mask_values_low: 'error',
  empty_mask: 'warning',
  empty_prompt: 'error',
  duplicate_entry: 'error',
  split_overlap: 'warning',
  repaired_file: 'warning',
  identical_channels: 'warning',
  translucent_alpha: 'warning',
  mask_in_alpha: 'warning',
};

export interface Problem {
  code: ProblemCode;
  severity: Severity;
  message: string;
  /** The file concerned: an annotation file, or an image/mask file. */
  file?: string;
  split?: Split;
  /** Entry index in the split's JSON list (the first entry concerned for file problems). */
  entry?: number;
  field?: string;
}

export interface CheckRules {
  /** Gray levels in [midGreyLow, midGreyHigh] count as mid-grey. */
  midGreyLow: number;
  midGreyHigh: number;
  /** A mask with more than this fraction of mid-grey pixels is non-binary (error). */
  nonBinaryFraction: number;
}

export const DEFAULT_CHECK_RULES: CheckRules = { midGreyLow: 32, midGreyHigh: 223, nonBinaryFraction: 0.01 };

/** Where a problem is: the fields of a Problem past its code, severity and message. */
export type ProblemPlace = Omit<Problem, 'code' | 'severity' | 'message'>;

/** The problems found so far; every check step adds to one. */
export class ProblemLog {
  readonly problems: Problem[] = [];

  /** A problem at its code's severity. */
  add(code: ProblemCode, message: string, where: ProblemPlace = {}): void {
    this.problems.push({ code, severity: PROBLEM_SEVERITY[code], message, ...where });
  }

  /** A problem whose severity depends on where it is (a missing or empty test split is a warning). */
  addWithSeverity(code: ProblemCode, severity: Severity, message: string, where: ProblemPlace): void {
    this.problems.push({ code, severity, message, ...where });
  }
}

/** The problem code of a parse issue of dataset.json or a split file. */
export function issueCode(i: FormatIssue): ProblemCode {
  return i.code === 'malformed_json' ? 'malformed_json' : i.code === 'path_escape' ? 'path_escape' : 'invalid_entry';
}

/** Problems per code (only codes that occur). */
export function countByCode(problems: readonly Problem[]): Partial<Record<ProblemCode, number>> {
  const counts: Partial<Record<ProblemCode, number>> = {};
  for (const p of problems) counts[p.code] = (counts[p.code] ?? 0) + 1;
  return counts;
}
