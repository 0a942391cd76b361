/**
 * The evaluation protocols a run's test split is scored under (issue 11, docs/report.md):
 * `summary.json` holds each as `test.protocols.<name>.{dice,iou}`, and `test.dice`/`test.iou`
 * stay the `model-resolution` scores (so older runs, without `protocols`, still read). The
 * report shows one protocol per table and says which in the caption.
 */

import {
  DEFAULT_TABLE_PROTOCOL,
  EVAL_PROTOCOLS,
  type EvalProtocol,
  PROTOCOL_DESCRIPTIONS,
  parseProtocol,
} from '../inference/protocol-names.js';

export { EVAL_PROTOCOLS, type EvalProtocol, PROTOCOL_DESCRIPTIONS, parseProtocol };

/**
 * The report's default: the paper writes each prediction back at its image's original size
 * (bicubic, 8-bit PNG, > 127) and scores those files, so its Table 3 is `original-size`.
 */
export const DEFAULT_REPORT_PROTOCOL: EvalProtocol = DEFAULT_TABLE_PROTOCOL;

/** What `test.dice`/`test.iou` of a summary are scored with (also every run made before protocols existed). */
export const LEGACY_PROTOCOL: EvalProtocol = 'model-resolution';

/** What a table needs to say which protocol its numbers are scored under. */
interface ProtocolTable {
  caption: string;
  notes: string[];
  rows: ReadonlyArray<{ kind: string; cells: ReadonlyArray<string | null>; values: ReadonlyArray<unknown> }>;
}

/**
 * Appends the protocol to a table's caption, and, where some of its cells fell back to
 * `model-resolution` (runs made before protocols existed), says so visibly: in the caption when
 * every cell did, else in a note naming the cells.
 */
export function captionProtocol(t: ProtocolTable, p: { requested: EvalProtocol; fallback: readonly string[] }): void {
  const shown = t.rows
    .filter((r) => r.kind === 'method')
    .flatMap((r) => r.cells.filter((c, j): c is string => c !== null && r.values[j] !== null));
  const fell = shown.filter((c) => p.fallback.includes(c));
  const asked = `Protocol ${p.requested}: ${PROTOCOL_DESCRIPTIONS[p.requested]}.`;
  if (p.requested === LEGACY_PROTOCOL || fell.length === 0) {
    t.caption += ` ${asked}`;
  } else if (fell.length === shown.length) {
    t.caption += ` Protocol ${LEGACY_PROTOCOL} (${PROTOCOL_DESCRIPTIONS[LEGACY_PROTOCOL]}), not the requested ${p.requested}: these runs' summary.json hold no per-protocol scores (made before protocols existed).`;
  } else {
    t.caption += ` ${asked}`;
    t.notes.push(`Not under ${p.requested} but ${LEGACY_PROTOCOL} (runs made before protocols existed): ${fell.join(', ')}.`);
  }
}
