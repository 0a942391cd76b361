// Registered parity case kinds (one file per kind of fixture). The runner asks each in turn
// whether it recognises a case folder; the first that does runs it.
import type { CaseKind } from '../runner.js';
import { tokenizerKind } from './tokenizer.js';
import { clipsegBaseKind } from './clipseg.js';
import { crisBaseKind } from './cris.js';
import { learnerKind } from './learners.js';
import { evalProtocolKind } from './eval-protocol.js';
import { trainingKind } from './training.js';
import { adapterKind } from './adapter.js';

export const caseKinds: CaseKind[] = [
  tokenizerKind,
  clipsegBaseKind,
  crisBaseKind,
  learnerKind,
  adapterKind,
  evalProtocolKind,
  trainingKind,
];
