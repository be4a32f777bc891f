// Times for tests whose events must fall on today's UTC date (a report of "today"), whenever
// the suite runs: just after midnight, "an hour ago" is yesterday.
import { setTimeout as sleep } from 'node:timers/promises';

const DAY_MS = 86_400_000;

/**
 * A start for events that span `spanMs` and must lie on today's UTC date, in the past: `agoMs`
 * before now, or today's first millisecond when that is later. When today is younger than
 * `spanMs`, waits until it is not (so none of them is in the future, which the collector clamps).
 */
export async function earlierToday(agoMs: number, spanMs: number): Promise<number> {
  const now = Date.now();
  const midnight = now - (now % DAY_MS);
  if (now - midnight < spanMs) await sleep(spanMs - (now - midnight) + 1_000);
  return Math.max(now - agoMs, midnight);
}
