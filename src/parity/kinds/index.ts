// Registered parity case kinds (one file per kind of fixture).
import type { CaseKind } from '../runner.js';
import { tokenizerKind } from './tokenizer.js';

export const caseKinds: CaseKind[] = [tokenizerKind];
