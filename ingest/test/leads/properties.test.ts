// Invariants, checked on random data: the sales funnel never rises from one stage to the next,
// every lead of the cohort is counted once, and without decay a score does not depend on the
// order events arrive in.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { salesFunnelReport } from '../../src/leads/report.js';
import { parseScoringRules } from '../../src/leads/scoring.js';
import { checkMove, SALES_STAGES, type LeadStage } from '../../src/leads/stages.js';
import { LeadTracker } from '../../src/leads/tracker.js';
import { event, HOUR, lead, MIN, SITE, T0 } from './helpers.js';

/** A lead walked through random moves, keeping only the legal ones (as the API does). */
const arbitraryLead = fc.record({
  mql: fc.boolean(),
  moves: fc.array(fc.tuple(fc.constantFrom(...SALES_STAGES), fc.integer({ min: 1, max: 48 })), { maxLength: 6 }),
  start: fc.integer({ min: 0, max: 47 }),
  channel: fc.constantFrom('Direct', 'Email', 'Paid Search'),
});

describe('salesFunnelReport invariants', () => {
  it('reached never rises, and every lead is waiting, won or lost', () => {
    fc.assert(fc.property(fc.array(arbitraryLead, { maxLength: 30 }), (specs) => {
      const leads = specs.map((spec, i) => {
        let at = T0 + spec.start * HOUR;
        const stages: [LeadStage, number, number?][] = [['lead', at]];
        if (spec.mql) stages.push(['mql', (at += HOUR)]);
        for (const [stage, hours] of spec.moves) {
          const check = checkMove(stages[stages.length - 1][0], stage);
          if (check.ok && check.changed) stages.push([stage, (at += hours * HOUR), stage === 'won' ? 100 : undefined]);
        }
        return lead(`l${i}`, stages, { channel: spec.channel });
      });
      const report = salesFunnelReport(leads, { fromMs: T0, toMs: T0 + 48 * HOUR, now: T0 + 1000 * HOUR, breakdown: 'channel' });
      for (let k = 1; k < report.stages.length; k++) expect(report.stages[k].reached).toBeLessThanOrEqual(report.stages[k - 1].reached);
      const waiting = report.stages.reduce((n, s) => n + (s.waiting?.count ?? 0), 0);
      expect(waiting + report.won + report.lost).toBe(report.leads);
      expect(report.breakdown!.reduce((n, b) => n + b.leads, 0)).toBe(report.leads);
      for (const s of report.stages) if (s.time_in_stage_ms) expect(s.time_in_stage_ms.median).toBeLessThanOrEqual(s.time_in_stage_ms.p90);
    }));
  });
});

describe('scoring invariants', () => {
  const parsed = parseScoringRules({ threshold: 1e6, rules: [{ points: 3, event: 'deal_view' }, { points: 5, path: '/deals/*' }, { points: -2, event: 'bounce' }] });
  if (!parsed.ok) throw new Error(parsed.error);

  it('without decay, the score is the sum of the points, whatever the arrival order', () => {
    const arbitraryEvent = fc.record({
      name: fc.constantFrom('pageview', 'deal_view', 'bounce'),
      path: fc.constantFrom('/', '/deals/spa'),
      minute: fc.integer({ min: 1, max: 600 }),
    });
    fc.assert(fc.property(fc.array(arbitraryEvent, { maxLength: 40 }), fc.integer(), (events, seed) => {
      const expected = events.reduce((sum, e) => sum + (e.name === 'deal_view' ? 3 : 0) + (e.name === 'bounce' ? -2 : 0) + (e.path === '/deals/spa' ? 5 : 0), 0);
      const shuffled = [...events].sort((a, b) => ((a.minute * 7919 + seed) % 101) - ((b.minute * 7919 + seed) % 101));
      const tracker = new LeadTracker<number>();
      tracker.setRules(SITE, parsed.rules);
      tracker.observe([{ event: event(T0, 'signup', { lead: 'L' }), ref: 0 }]);
      tracker.observe(shuffled.map((e, i) => ({ event: event(T0 + e.minute * MIN, e.name, { path: e.path }), ref: i + 1 })));
      expect(tracker.get(SITE, 'L')!.score.value).toBe(expected);
    }));
  });
});
