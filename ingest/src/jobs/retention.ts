// Data retention per site (and ended sessions cleared away): events older than the site's retention_days are deleted in the
// background, a slice at a time with a turn of the event loop between slices, so ingestion
// (which shares the one SQLite connection) never waits behind a long delete.
import type { FastifyInstance } from 'fastify';
import { DAY_MS } from '../time.js';

/** Events deleted per transaction. */
export const RETENTION_SLICE = 2_000;

/** One pass over every site with a retention setting; returns the events deleted. */
export async function enforceRetention(app: FastifyInstance, now = Date.now()): Promise<number> {
  let deleted = 0;
  for (const site of app.sites.list()) {
    if (!site.retentionDays) continue;
    const before = now - site.retentionDays * DAY_MS;
    for (;;) {
      const slice = await app.store.expireEvents(site.domain, before, RETENTION_SLICE);
      deleted += slice;
      if (slice < RETENTION_SLICE) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  return deleted;
}

/** Runs a pass a minute after start and then every hour, until the app closes. */
export function startRetentionJob(app: FastifyInstance, everyMs = 3_600_000): () => void {
  let running = false;
  const pass = () => {
    if (running) return;
    running = true;
    enforceRetention(app)
      // Ended sessions are refused when read; this only clears them away.
      .then(() => app.store.deleteExpiredRecords(Date.now()))
      .catch((err: unknown) => app.log.warn({ err }, 'retention pass failed'))
      .finally(() => { running = false; });
  };
  const first = setTimeout(pass, 60_000);
  const timer = setInterval(pass, everyMs);
  first.unref();
  timer.unref();
  return () => {
    clearTimeout(first);
    clearInterval(timer);
  };
}
