// Visits (sessions): a visitor's events with no gap over 30 minutes. The visit's landing page
// and attribution are fixed by its first event, so the internal clicks that follow (whose
// referrer is the site itself) keep the source the visitor came from.
import type { Attribution } from '../event.js';

export const SESSION_IDLE_MS = 30 * 60_000;

export interface Visit {
  id: string;
  landing: string;
  attribution: Attribution;
  lastSeen: number;
}

export const DIRECT: Attribution = {
  channel: 'Direct', source: null, medium: null, campaign: null, term: null, content: null,
};

export class SessionTracker {
  private readonly visits = new Map<string, Visit>();

  /** Bounded so memory stays flat under any number of visitors; the oldest visits go first. */
  constructor(private readonly maxVisits = 200_000) {}

  /**
   * The visit an event belongs to, started when none is open. `key` identifies the visitor
   * (or the client's session id); `attribution` is null for an internal referrer.
   */
  visit(key: string, at: number, path: string, attribution: Attribution | null, clientSession?: string): Visit {
    const open = this.visits.get(key);
    if (open && at - open.lastSeen <= SESSION_IDLE_MS && at >= open.lastSeen - SESSION_IDLE_MS) {
      // Re-inserting keeps the Map in least-recently-seen order for eviction; once a minute
      // per visit is order enough, and spares the hot path a delete and an insert per event.
      if (at - open.lastSeen > 60_000) {
        this.visits.delete(key);
        this.visits.set(key, open);
      }
      open.lastSeen = Math.max(open.lastSeen, at);
      return open;
    }
    if (open) this.visits.delete(key);
    const started: Visit = {
      id: clientSession ?? `${at.toString(36)}${key.slice(-8)}`,
      landing: path,
      attribution: attribution ?? DIRECT,
      lastSeen: at,
    };
    this.visits.set(key, started);
    if (this.visits.size > this.maxVisits) {
      const oldest = this.visits.keys().next().value;
      if (oldest !== undefined) this.visits.delete(oldest);
    }
    return started;
  }

  get size(): number {
    return this.visits.size;
  }
}
