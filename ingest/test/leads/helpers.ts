// Hand-made events and leads for the lead tests.
import type { TrackedEvent } from '../../src/leads/tracker.js';
import type { LeadRecord, StageChange } from '../../src/leads/lead.js';
import type { LeadStage } from '../../src/leads/stages.js';

export const SITE = 'shop.example.com';
export const MIN = 60_000;
export const HOUR = 60 * MIN;
export const DAY = 24 * HOUR;
export const T0 = Date.parse('2026-03-02T10:00:00Z');

export function event(ts: number, name: string, fields: Partial<TrackedEvent> = {}): TrackedEvent {
  return {
    site: SITE, ts, name, path: '/', props: null, channel: 'Direct', source: null, medium: null, campaign: null,
    term: null, landing: '/', visitor: 'v1', session: 's1', lead: null, ...fields,
  };
}

/** A lead that went through `stages` at the given times ([stage, at, amount?]). */
export function lead(id: string, stages: [LeadStage, number, number?][], entry: Partial<LeadRecord['entry']> = {}): LeadRecord {
  const changes: StageChange[] = stages.map(([stage, at, amount], i) => ({
    stage, at, from: i === 0 ? null : stages[i - 1][0], amount: amount ?? null, currency: amount === undefined ? null : 'USD',
    by: i === 0 ? 'identify' : stage === 'mql' ? 'score' : 'api',
  }));
  const last = changes[changes.length - 1];
  return {
    site: SITE, lead: id, stage: last.stage, stageAt: last.at, score: { value: 0, at: stages[0][1] },
    createdAt: stages[0][1], firstSeen: stages[0][1], lastSeen: last.at,
    entry: { channel: 'Direct', source: null, medium: null, campaign: null, term: null, landing: '/', ...entry },
    changes,
  };
}
