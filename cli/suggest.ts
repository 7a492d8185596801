/**
 * "Did you mean connect?": the known word nearest a mistyped one.
 *
 * @module
 */

/**
 * The word in `words` closest to `typed` by edit distance (a swap of two
 * neighbours counts once), if it is close enough to be a typo: at most one
 * edit for short words, two for longer ones.
 */
export function closest(
  typed: string,
  words: readonly string[],
): string | undefined {
  let best: string | undefined;
  let bestDistance = typed.length <= 4 ? 2 : 3;
  for (const word of words) {
    const distance = editDistance(typed.toLowerCase(), word);
    if (distance < bestDistance) [best, bestDistance] = [word, distance];
  }
  return best;
}

/** Optimal string alignment distance between `a` and `b`. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from(
    { length: a.length + 1 },
    (_, i) => Array.from({ length: b.length + 1 }, (_, j) => i === 0 ? j : i),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(
        d[i - 1][j] + 1,
        d[i][j - 1] + 1,
        d[i - 1][j - 1] + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}
