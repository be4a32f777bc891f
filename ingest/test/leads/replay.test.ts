// The lead replay (ClickHouse's leads): operations merged by seq, deliveries named by their
// cause, racing moves settled by the log's order, and a replay that can be carried on.
import { describe, expect, it } from 'vitest';
import { deliveryId, orderOperations, replayLeads, type LeadOperation } from '../../src/leads/replay.js';
import { event, MIN, SITE, T0 } from './helpers.js';

const SCORING = { threshold: 20, rules: [{ points: 10, event: 'deal_view' }] };

/** A lead named at signup that turns MQL at its second deal view (seq = arrival in µs). */
const journey: LeadOperation[] = [
  { kind: 'scoring', seq: 1, rules: SCORING },
  { kind: 'event', seq: 10, event: event(T0, 'pageview') },
  { kind: 'event', seq: 11, event: event(T0 + MIN, 'signup', { lead: 'L1' }) },
  { kind: 'event', seq: 12, event: event(T0 + 2 * MIN, 'deal_view') },
  { kind: 'event', seq: 13, event: event(T0 + 3 * MIN, 'deal_view') },
];

describe('replayLeads', () => {
  it('orders operations by seq, settings and moves before events of the same seq', () => {
    const ops: LeadOperation[] = [
      { kind: 'event', seq: 5, event: event(T0, 'pageview') },
      { kind: 'move', seq: 5, id: 'm', lead: 'L1', move: { stage: 'sal', at: T0 } },
      { kind: 'outbound', seq: 5, target: 'webhook', on: false },
      { kind: 'scoring', seq: 2, rules: null },
    ];
    expect(orderOperations(ops).map((op) => op.kind)).toEqual(['scoring', 'outbound', 'move', 'event']);
  });

  it('queues a delivery only while the webhook is set, named by its cause, and drops it when the webhook goes', () => {
    const withHook = replayLeads(SITE, orderOperations([...journey, { kind: 'outbound', seq: 12, target: 'webhook', on: true }]));
    expect(withHook.lead('L1')?.stage).toBe('mql');
    expect(withHook.deliveries.map((d) => [d.id, d.type, d.targets])).toEqual([[deliveryId(13, 'L1'), 'lead.mql', ['webhook']]]);
    expect(JSON.parse(withHook.deliveries[0].body)).toMatchObject({ lead: 'L1', stage: 'mql', score: 20, at: new Date(T0 + 3 * MIN).toISOString() });
    // The webhook set only after the MQL: nothing to send.
    expect(replayLeads(SITE, orderOperations([...journey, { kind: 'outbound', seq: 14, target: 'webhook', on: true }])).deliveries).toEqual([]);
    const removed = replayLeads(SITE, orderOperations([...journey, { kind: 'outbound', seq: 2, target: 'webhook', on: true }, { kind: 'outbound', seq: 20, target: 'webhook', on: false }]));
    expect(removed.deliveries.map((d) => d.targets)).toEqual([[]]);
  });

  it('names apart a new lead and its MQL made by one event, for a CRM, the creation first', () => {
    const replay = replayLeads(SITE, orderOperations([
      { kind: 'scoring', seq: 1, rules: { threshold: 10, rules: [{ points: 10, event: 'signup' }] } },
      { kind: 'outbound', seq: 2, target: 'pipedrive', on: true },
      { kind: 'outbound', seq: 3, target: 'webhook', on: true },
      { kind: 'event', seq: 10, event: event(T0, 'signup', { lead: 'L1' }) },
    ]));
    expect(replay.deliveries.map((d) => [d.id, d.type, d.targets])).toEqual([
      [deliveryId(10, 'L1', true), 'lead.created', ['pipedrive']],
      [deliveryId(10, 'L1'), 'lead.mql', ['webhook', 'pipedrive']],
    ]);
  });

  it('settles racing moves by the order of the log: the later one is refused if it no longer follows', () => {
    const replay = replayLeads(SITE, orderOperations([
      ...journey,
      { kind: 'move', seq: 20, id: 'sal', lead: 'L1', move: { stage: 'sal', at: T0 + 10 * MIN } },
      { kind: 'move', seq: 21, id: 'sql', lead: 'L1', move: { stage: 'sql', at: T0 + 11 * MIN } },
      { kind: 'move', seq: 22, id: 'won', lead: 'L1', move: { stage: 'won', at: T0 + 12 * MIN, amount: 490, currency: 'USD' } },
      { kind: 'move', seq: 23, id: 'lost', lead: 'L1', move: { stage: 'lost', at: T0 + 12 * MIN } },
      { kind: 'move', seq: 24, id: 'nobody', lead: 'L9', move: { stage: 'sal', at: T0 + 12 * MIN } },
    ]));
    expect(replay.moveResult('won')).toMatchObject({ ok: true, changed: true });
    expect(replay.moveResult('lost')).toMatchObject({ ok: false, reason: 'illegal', stage: 'won' });
    expect(replay.moveResult('nobody')).toEqual({ ok: false, reason: 'unknown' });
    expect(replay.lead('L1')?.changes.map((c) => c.stage)).toEqual(['lead', 'mql', 'sal', 'sql', 'won']);
  });

  it('carried on with later operations, gives what a replay from the start gives', () => {
    const later: LeadOperation[] = [
      { kind: 'outbound', seq: 30, target: 'hubspot', on: true },
      { kind: 'move', seq: 31, id: 'sal', lead: 'L1', move: { stage: 'sal', at: T0 + 10 * MIN } },
      { kind: 'scoring', seq: 32, rules: { threshold: 5, rules: [{ points: 5, event: 'pageview' }] } },
    ];
    const carried = replayLeads(SITE, journey);
    for (const op of later) carried.apply(op);
    const whole = replayLeads(SITE, [...journey, ...later]);
    expect(carried.leads()).toEqual(whole.leads());
    expect(carried.deliveries).toEqual(whole.deliveries);
    expect(carried.eventsOf('L1').map((e) => e.name)).toEqual(['pageview', 'signup', 'deal_view', 'deal_view']);
  });
});
