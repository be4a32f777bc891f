// Map.groupBy arrives with Node 21; this project runs on Node 20.

/** The items grouped by key, each group in the items' order (linear: large batches are grouped too). */
export function groupBy<T>(items: Iterable<T>, keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}
