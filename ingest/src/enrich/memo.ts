// A bounded memo for the pure, string-keyed enrichers on the ingestion hot path.

/**
 * Wraps `fn` with a cache of at most `max` entries. When full, the oldest entry is dropped
 * (a Map iterates in insertion order), so a flood of unique keys costs memory once, not forever.
 */
export function boundedMemo<V>(fn: (key: string) => V, max = 10_000): (key: string) => V {
  const cache = new Map<string, V>();
  return (key: string): V => {
    const hit = cache.get(key);
    if (hit !== undefined || cache.has(key)) return hit as V;
    const value = fn(key);
    if (cache.size >= max) cache.delete(cache.keys().next().value as string);
    cache.set(key, value);
    return value;
  };
}
