// The stage machine: which moves are legal, and the tracker applying them.
import { describe, expect, it } from 'vitest';
import { checkMove, STAGES, type LeadStage } from '../../src/leads/stages.js';
import { LeadTracker } from '../../src/leads/tracker.js';
import { event, MIN, SITE, T0 } from './helpers.js';

const LEGAL: [LeadStage, LeadStage][] = [
  ['lead', 'mql'], ['lead', 'sal'], ['mql', 'sal'], ['sal', 'sql'], ['sql', 'won'],
  ['lead', 'lost'], ['mql', 'lost'], ['sal', 'lost'], ['sql', 'lost'],
];

describe('checkMove', () => {
  it.each(LEGAL)('%s → %s is legal', (from, to) => {
    expect(checkMove(from, to)).toEqual({ ok: true, changed: true });
  });

  const illegal = STAGES.flatMap((from) => STAGES.map((to) => [from, to] as [LeadStage, LeadStage]))
    .filter(([from, to]) => from !== to && !LEGAL.some(([f, t]) => f === from && t === to));
  it.each(illegal)('%s → %s is illegal', (from, to) => {
    const check = checkMove(from, to);
    expect(check.ok).toBe(false);
  });

  it('nothing leaves won or lost, nothing goes backwards, no skipping to sql or won', () => {
    expect(checkMove('won', 'lost')).toMatchObject({ ok: false, error: expect.stringContaining('closed') });
    expect(checkMove('lost', 'sal')).toMatchObject({ ok: false });
    expect(checkMove('sql', 'sal')).toMatchObject({ ok: false, error: 'a lead in sql cannot move to sal (only from lead or mql)' });
    expect(checkMove('mql', 'sql')).toMatchObject({ ok: false });
    expect(checkMove('sal', 'won')).toMatchObject({ ok: false });
  });

  it('a repeat of the current stage is no change, not an error', () => {
    for (const stage of STAGES) expect(checkMove(stage, stage)).toEqual({ ok: true, changed: false });
  });
});

describe('LeadTracker.move', () => {
  it('records timestamped changes and refuses illegal moves', () => {
    const t = new LeadTracker<number>();
    t.observe([{ event: event(T0, 'signup', { lead: 'L1' }), ref: 1 }]);
    expect(t.move(SITE, 'nobody', { stage: 'sal', at: T0 })).toEqual({ ok: false, reason: 'unknown' });
    expect(t.move(SITE, 'L1', { stage: 'sql', at: T0 + MIN })).toMatchObject({ ok: false, reason: 'illegal', stage: 'lead' });
    expect(t.move(SITE, 'L1', { stage: 'sal', at: T0 + MIN })).toMatchObject({ ok: true, changed: true, change: { stage: 'sal', from: 'lead', at: T0 + MIN, by: 'api' } });
    expect(t.move(SITE, 'L1', { stage: 'sal', at: T0 + 2 * MIN })).toMatchObject({ ok: true, changed: false, change: null });
    expect(t.move(SITE, 'L1', { stage: 'sql', at: T0 + 3 * MIN })).toMatchObject({ ok: true });
    // A clock that went back does not make a stage start before the one it follows.
    const won = t.move(SITE, 'L1', { stage: 'won', at: T0, amount: 490, currency: 'USD' });
    expect(won).toMatchObject({ ok: true, change: { stage: 'won', at: T0 + 3 * MIN, amount: 490, currency: 'USD' } });
    expect(t.move(SITE, 'L1', { stage: 'lost', at: T0 + 4 * MIN })).toMatchObject({ ok: false, reason: 'illegal', stage: 'won' });
    expect(t.get(SITE, 'L1')!.changes.map((c) => c.stage)).toEqual(['lead', 'sal', 'sql', 'won']);
  });
});
