// "Did you mean": the nearest of a set of names to a mistyped one. Used for command names (the
// CLI), learner names (the registry), model config keys (src/cli/model-flag.ts) and choices.

/** Edit distance (insert, delete, substitute). */
function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** The nearest of `choices` to `word` (case-insensitive), when it is close enough to be a typo. */
export function didYouMean(word: string, choices: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const c of choices) {
    const d = distance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best !== null && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : null;
}

/** ` (did you mean "x"?)` or '' : the suffix every "unknown name" message uses. */
export function didYouMeanSuffix(word: string, choices: readonly string[]): string {
  const near = didYouMean(word, choices);
  return near === null ? '' : ` (did you mean "${near}"?)`;
}
