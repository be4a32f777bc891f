// The sales funnel on a known set of leads, every number worked out by hand.
import { describe, expect, it } from 'vitest';
import { nearestRank, salesFunnelReport } from '../../src/leads/report.js';
import { DAY, HOUR, lead, T0 } from './helpers.js';

const H = HOUR;
const NOW = T0 + 10 * DAY;

// Ten leads named on day 0 (and one outside the range).
const LEADS = [
  lead('a', [['lead', T0], ['mql', T0 + 1 * H], ['sal', T0 + 3 * H], ['sql', T0 + 7 * H], ['won', T0 + 17 * H, 1000]], { channel: 'Paid Search', campaign: 'spa' }),
  lead('b', [['lead', T0], ['mql', T0 + 2 * H], ['sal', T0 + 4 * H], ['sql', T0 + 10 * H], ['won', T0 + 30 * H, 500]], { channel: 'Paid Search', campaign: 'spa' }),
  lead('c', [['lead', T0], ['mql', T0 + 3 * H], ['sal', T0 + 5 * H], ['sql', T0 + 9 * H], ['lost', T0 + 20 * H]], { channel: 'Organic Search' }),
  lead('d', [['lead', T0], ['mql', T0 + 4 * H], ['sal', T0 + 8 * H], ['sql', T0 + 9 * H]], { channel: 'Organic Search' }),
  // Accepted by sales without being an MQL.
  lead('e', [['lead', T0], ['sal', T0 + 6 * H]], { channel: 'Direct' }),
  lead('f', [['lead', T0], ['mql', T0 + 5 * H], ['lost', T0 + 9 * H]], { channel: 'Direct' }),
  lead('g', [['lead', T0], ['mql', T0 + 6 * H]], { channel: 'Paid Search', campaign: 'brand' }),
  lead('h', [['lead', T0]], { channel: 'Direct' }),
  lead('i', [['lead', T0 + H]], { channel: 'Email' }),
  lead('j', [['lead', T0 + 2 * H], ['lost', T0 + 3 * H]], { channel: 'Email' }),
  lead('old', [['lead', T0 - 5 * DAY], ['mql', T0 - 4 * DAY]]),
];

const range = { fromMs: T0 - 10 * H, toMs: T0 + DAY - 10 * H, now: NOW };

describe('nearestRank', () => {
  it('is a measured value of rank ceil(p/100 × n)', () => {
    expect(nearestRank([], 50)).toBeNull();
    expect(nearestRank([7], 90)).toBe(7);
    expect(nearestRank([1, 2, 3, 4], 50)).toBe(2);
    expect(nearestRank([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90)).toBe(9);
    expect(nearestRank([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 90)).toBe(10);
  });
});

describe('salesFunnelReport', () => {
  const report = salesFunnelReport(LEADS, range);

  it('counts each stage as the leads that reached it or a later one', () => {
    expect(report.leads).toBe(10);
    expect(report.stages.map((s) => [s.stage, s.reached])).toEqual([
      // e skipped mql on its way to sal: it counts as having reached mql.
      ['lead', 10], ['mql', 7], ['sal', 5], ['sql', 4], ['won', 2],
    ]);
    expect(report.stages.map((s) => s.conversion_rate)).toEqual([0.7, 5 / 7, 0.8, 0.5, null]);
    expect(report.won).toBe(2);
    expect(report.lost).toBe(3);
    expect(report.stages.map((s) => s.lost)).toEqual([1, 1, 0, 1, 0]);
    expect(report.conversion_rate).toBe(0.2);
    expect(report.close_rate).toBe(0.5);
    expect(report.revenue).toEqual({ USD: 1500 });
  });

  it('times each stage up to the move to a later one (median and p90, nearest rank)', () => {
    const time = Object.fromEntries(report.stages.map((s) => [s.stage, s.time_in_stage_ms]));
    // lead → next: a 1h, b 2h, c 3h, d 4h, e 6h (to sal), f 5h, g 6h → sorted 1,2,3,4,5,6,6
    expect(time.lead).toEqual({ median: 4 * H, p90: 6 * H });
    // mql → sal: a 2h, b 2h, c 2h, d 4h → median 2h, p90 4h
    expect(time.mql).toEqual({ median: 2 * H, p90: 4 * H });
    // sal → sql: a 4h, b 6h, c 4h, d 1h → 1,4,4,6
    expect(time.sal).toEqual({ median: 4 * H, p90: 6 * H });
    // sql → won: a 10h, b 20h (c was lost: not moving on)
    expect(time.sql).toEqual({ median: 10 * H, p90: 20 * H });
    expect(time.won).toBeNull();
  });

  it('shows the leads waiting in each stage now, and for how long', () => {
    const waiting = Object.fromEntries(report.stages.map((s) => [s.stage, s.waiting]));
    // lead: h since T0, i since T0+1h
    expect(waiting.lead).toEqual({ count: 2, median_ms: NOW - T0 - H, p90_ms: NOW - T0, max_ms: NOW - T0 });
    expect(waiting.mql).toEqual({ count: 1, median_ms: NOW - T0 - 6 * H, p90_ms: NOW - T0 - 6 * H, max_ms: NOW - T0 - 6 * H });
    expect(waiting.sal?.count).toBe(1);
    expect(waiting.sql).toEqual({ count: 1, median_ms: NOW - T0 - 9 * H, p90_ms: NOW - T0 - 9 * H, max_ms: NOW - T0 - 9 * H });
    expect(waiting.won).toBeNull();
  });

  it('breaks down by entry channel and by campaign', () => {
    const byChannel = salesFunnelReport(LEADS, { ...range, breakdown: 'channel' }).breakdown!;
    expect(byChannel.map((r) => [r.key, r.leads, r.won, r.close_rate])).toEqual([
      ['Direct', 3, 0, null], ['Paid Search', 3, 2, 1], ['Email', 2, 0, null], ['Organic Search', 2, 0, 0],
    ]);
    expect(byChannel[1].stages.map((s) => s.reached)).toEqual([3, 3, 2, 2, 2]);
    expect(byChannel[1].revenue).toEqual({ USD: 1500 });
    const byCampaign = salesFunnelReport(LEADS, { ...range, breakdown: 'campaign' }).breakdown!;
    expect(byCampaign.map((r) => [r.key, r.leads])).toEqual([[null, 7], ['spa', 2], ['brand', 1]]);
  });

  it('an empty range has no rates', () => {
    const empty = salesFunnelReport(LEADS, { fromMs: 0, toMs: 1, now: NOW });
    expect(empty).toMatchObject({ leads: 0, won: 0, conversion_rate: null, close_rate: null, revenue: {} });
    expect(empty.stages.every((s) => s.reached === 0 && s.time_in_stage_ms === null)).toBe(true);
  });
});
