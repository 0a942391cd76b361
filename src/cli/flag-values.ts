/**
 * Value parsers of the flag grammar (docs/cli.md): each checks a flag's value and says what it
 * expected, with "did you mean" for a near miss among names.
 */
import { InvalidArgumentError } from 'commander';
import { didYouMeanSuffix } from '../util/suggest.js';
import { LEARNER_NAMES, unknownLearnerMessage } from '../learners/registry.js';

export type Parse = (value: string, previous: unknown) => unknown;

export const positiveInt =
  (flag: string): Parse =>
  (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected an integer >= 1, got ${JSON.stringify(v)} (${flag})`);
    return n;
  };
export const nonNegativeInt =
  (flag: string): Parse =>
  (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected an integer >= 0, got ${JSON.stringify(v)} (${flag})`);
    return n;
  };

/** A value among `choices`, with "did you mean" for a near miss. */
export const oneOf =
  (choices: readonly string[]): Parse =>
  (v) => {
    if (!choices.includes(v))
      throw new InvalidArgumentError(`expected ${choices.join(' | ')}, got ${JSON.stringify(v)}${didYouMeanSuffix(v, choices)}`);
    return v;
  };

/** A learner name of the registry (read live: learners registered later count), or `extra` ('none'). */
export const learnerName =
  (extra: readonly string[] = []): Parse =>
  (v) => {
    if (!(LEARNER_NAMES as readonly string[]).includes(v) && !extra.includes(v))
      throw new InvalidArgumentError(unknownLearnerMessage(v, extra));
    return v;
  };

/** A comma-separated list of registered learners, or `all` (kept as is: each command says what all means to it). */
export const learnerList: Parse = (v) => {
  const names = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0)
    throw new InvalidArgumentError(`expected a comma-separated list of learners (${LEARNER_NAMES.join(', ')}), got ${JSON.stringify(v)}`);
  if (names.length === 1 && names[0] === 'all') return 'all';
  for (const n of names) learnerName()(n, undefined);
  return names.join(',');
};

/** Parser of a repeatable flag: each value appended. */
export const collect: Parse = (v, prev) => [...((prev as string[] | undefined) ?? []), v];

/** A probability strictly between 0 and 1 (a threshold). */
export const probability =
  (flag: string): Parse =>
  (v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n <= 0 || n >= 1)
      throw new InvalidArgumentError(`expected a number between 0 and 1, got ${JSON.stringify(v)} (${flag})`);
    return n;
  };
