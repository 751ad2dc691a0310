/**
 * Grouped-query attention for the head grid, without the DOM (unit-tested in llamaInspect.test.ts): which
 * key/value head a query head reads, the heads of its group, and where a group starts.
 *
 *   kvGroupOf(5, 8, 2).label   // 'head 5 · kv group 1'
 */

/**
 * Grouped-query attention in words: the key/value head query head h reads (Hugging Face's repeat_kv order:
 * heads kv·G … kv·G + G-1 share head kv, G = nHead / nKvHead), the heads of its group, and whether h starts
 * a group (a separator in the head grid). Without grouping (nKvHead = nHead) every head is its own group.
 *
 *   kvGroupOf(5, 8, 2)   // { group: 1, first: 4, last: 7, starts: false, label: 'head 5 · kv group 1' }
 */
export function kvGroupOf(
  h: number,
  nHead: number,
  nKvHead: number,
): { group: number; first: number; last: number; starts: boolean; label: string } {
  const G = nHead / nKvHead;
  const group = Math.floor(h / G);
  const grouped = nKvHead < nHead;
  return {
    group,
    first: group * G,
    last: group * G + G - 1,
    starts: grouped && h > 0 && h % G === 0,
    label: grouped ? `head ${h} · kv group ${group}` : `head ${h}`,
  };
}
