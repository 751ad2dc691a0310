/**
 * A few items of a long list for a message, and how many more: few(['a', 'b', 'c', 'd', 'e']) is
 * 'a, b, c and 2 more'.
 */
export function few(items: readonly string[], n = 3): string {
  const shown = items.slice(0, n).join(', ');
  return items.length > n ? `${shown} and ${items.length - n} more` : shown;
}
