// Order modes, step time limits and exclusions, held to a brute-force reading of the contract
// ("Funnel definition: ordering, exclusions, step time limits") on random journeys, plus the
// cases a reader checks by eye, and the refusals of bad definitions.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { matchJourney, parseFunnelDefinition, stepMatches, type FunnelEvent, type ParsedFunnel } from '../../src/funnel/index.js';
import { event, MIN, T0 } from './helpers.js';

// ---- The contract, read literally (exponential; tiny inputs only)

interface Reading {
  start: number;
  reached: number;
  stepTimes: number[];
  excluded: boolean;
}

const compareChains = (a: number[], b: number[]) => {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
};

/** Every chain of steps 0..k in order from event `s` (strict: each the very next event), with the window and `within`s kept. */
function orderedChains(events: readonly FunnelEvent[], s: number, funnel: ParsedFunnel): number[][] {
  const deadline = events[s].ts + funnel.windowMs;
  const chains: number[][] = [];
  const walk = (chain: number[]) => {
    chains.push(chain);
    const k = chain.length;
    if (k === funnel.steps.length) return;
    const previous = chain[k - 1];
    for (let j = previous + 1; j < events.length; j++) {
      if (funnel.order === 'strict' && j !== previous + 1) break;
      const within = funnel.steps[k].withinMs;
      if (events[j].ts > deadline || !stepMatches(funnel.steps[k], events[j])) continue;
      if (within !== null && events[j].ts - events[previous].ts > within) continue;
      walk([...chain, j]);
    }
  };
  walk([s]);
  return chains;
}

/** The most distinct steps the events `s..e` can serve at once, each event one step, `s` serving one. */
function distinctSteps(events: readonly FunnelEvent[], s: number, e: number, funnel: ParsedFunnel): number {
  let best = 0;
  const assign = (i: number, used: Set<number>) => {
    if (i > e) {
      best = Math.max(best, used.size);
      return;
    }
    if (i !== s) assign(i + 1, used);
    funnel.steps.forEach((step, k) => {
      if (!used.has(k) && stepMatches(step, events[i])) assign(i + 1, new Set([...used, k]));
    });
  };
  assign(s, new Set());
  return best;
}

function attemptOf(events: readonly FunnelEvent[], s: number, funnel: ParsedFunnel): number[] {
  if (funnel.order === 'any') {
    const deadline = events[s].ts + funnel.windowMs;
    // Where each count of distinct steps was first reached.
    const at: number[] = [];
    for (let e = s; e < events.length && events[e].ts <= deadline; e++) {
      while (at.length < distinctSteps(events, s, e, funnel)) at.push(e);
    }
    return at;
  }
  const chains = orderedChains(events, s, funnel);
  const longest = Math.max(...chains.map((c) => c.length));
  return chains.filter((c) => c.length === longest).sort(compareChains)[0];
}

function reference(events: readonly FunnelEvent[], funnel: ParsedFunnel): Reading | null {
  let best: { s: number; chain: number[] } | null = null;
  events.forEach((e, s) => {
    const opens = funnel.order === 'any' ? funnel.steps.some((step) => stepMatches(step, e)) : stepMatches(funnel.steps[0], e);
    if (!opens) return;
    const chain = attemptOf(events, s, funnel);
    if (!best || chain.length > best.chain.length) best = { s, chain };
  });
  if (!best) return null;
  const { s, chain } = best as { s: number; chain: number[] };
  const stepTimes = chain.map((i) => events[i].ts);
  const windowEnd = events[s].ts + funnel.windowMs;
  const excluded = funnel.exclusions.some((x) => {
    const [a, b] = x.between;
    if (chain.length < a) return false;
    const before = chain.length >= b ? stepTimes[b - 1] : windowEnd;
    return events.some((e) => e.ts > stepTimes[a - 1] && e.ts < before && stepMatches(x, e));
  });
  return { start: events[s].ts, reached: chain.length, stepTimes, excluded };
}

// ---- Random funnels and journeys over a small alphabet (steps share events on purpose)

const matcherArb = fc.record({
  event: fc.constantFrom('a', 'b', 'c'),
  path: fc.constantFrom(undefined, '/x', '/y*'),
});

const funnelArb = fc.record({
  order: fc.constantFrom(undefined, 'sequential', 'strict', 'any'),
  window: fc.constantFrom('10m', '30m', '1h'),
  steps: fc.array(fc.record({ m: matcherArb, within: fc.constantFrom(undefined, undefined, '3m', '10m') }), { minLength: 2, maxLength: 4 }),
  exclusions: fc.array(fc.record({ m: matcherArb, a: fc.integer({ min: 1, max: 3 }), span: fc.integer({ min: 1, max: 3 }) }), { maxLength: 2 }),
}).map(({ order, window, steps, exclusions }) => {
  const definition = {
    name: 'Random',
    window,
    ...(order ? { order } : {}),
    steps: steps.map((step, k) => ({
      name: `S${k + 1}`, event: step.m.event, ...(step.m.path ? { path: step.m.path } : {}),
      ...(k > 0 && order !== 'any' && step.within ? { within: step.within } : {}),
    })),
    exclusions: exclusions
      .map((x) => ({ event: x.m.event, ...(x.m.path ? { path: x.m.path } : {}), between: [x.a, Math.min(steps.length, x.a + x.span)] }))
      .filter((x) => x.between[0] < x.between[1]),
  };
  const parsed = parseFunnelDefinition(definition);
  if (!parsed.ok) throw new Error(`${parsed.field}: ${parsed.error}`);
  return parsed.funnel;
});

const eventsArb = fc.array(fc.record({
  minute: fc.integer({ min: 0, max: 40 }),
  name: fc.constantFrom('a', 'b', 'c', 'd'),
  path: fc.constantFrom('/x', '/y', '/y2'),
}), { maxLength: 8 }).map((list) => list
  .map((e, i) => event(T0 + e.minute * MIN + (i % 2), e.name, { path: e.path }))
  .sort((a, b) => a.ts - b.ts));

describe('ordering, step time limits and exclusions', () => {
  it('match a brute-force reading of the contract on random journeys', () => {
    fc.assert(fc.property(funnelArb, eventsArb, (funnel, events) => {
      const expected = reference(events, funnel);
      const journey = matchJourney(events, funnel);
      if (expected === null) {
        expect(journey).toBeNull();
      } else {
        expect(journey).not.toBeNull();
        expect({ start: journey!.start, reached: journey!.reached, stepTimes: journey!.stepTimes, excluded: journey!.excluded }).toEqual(expected);
      }
    }), { numRuns: 3000 });
  });
});

describe('by eye', () => {
  const parse = (body: object) => {
    const parsed = parseFunnelDefinition({ name: 'F', window: '1h', ...body });
    if (!parsed.ok) throw new Error(parsed.error);
    return parsed.funnel;
  };
  const steps = [{ name: 'A', event: 'a' }, { name: 'B', event: 'b' }, { name: 'C', event: 'c' }];
  const at = (minute: number, name: string) => event(T0 + minute * MIN, name, { path: '/' });

  it('strict: another event between two steps stops the attempt there', () => {
    const journey = [at(0, 'a'), at(1, 'x'), at(2, 'b'), at(3, 'c')];
    expect(matchJourney(journey, parse({ steps }))!.reached).toBe(3);
    expect(matchJourney(journey, parse({ order: 'strict', steps }))!.reached).toBe(1);
    expect(matchJourney([at(0, 'a'), at(1, 'b'), at(2, 'c')], parse({ order: 'strict', steps }))!.reached).toBe(3);
  });

  it('any: the steps in any order, step 1 whichever came first, one event per step', () => {
    const funnel = parse({ order: 'any', steps });
    expect(matchJourney([at(0, 'c'), at(1, 'a'), at(2, 'b')], funnel)).toMatchObject({ reached: 3, start: T0 });
    expect(matchJourney([at(0, 'b'), at(1, 'b')], funnel)!.reached).toBe(1);
  });

  it('within: a step too long after the one before does not count, but a later, closer one does', () => {
    const funnel = parse({ steps: [steps[0], { ...steps[1], within: '5m' }, steps[2]] });
    expect(matchJourney([at(0, 'a'), at(10, 'b'), at(11, 'c')], funnel)!.reached).toBe(1);
    // From the first a, b comes 6 minutes late; the attempt from the second a gets through.
    expect(matchJourney([at(0, 'a'), at(3, 'a'), at(6, 'b'), at(7, 'c')], funnel)).toMatchObject({ reached: 3, start: T0 + 3 * MIN });
    // Where an earlier b would leave c out of reach: the engine finds the b that leads on.
    const tight = parse({ steps: [steps[0], steps[1], { ...steps[2], within: '2m' }] });
    expect(matchJourney([at(0, 'a'), at(1, 'b'), at(5, 'b'), at(6, 'c')], tight)).toMatchObject({ reached: 3, stepTimes: [T0, T0 + 5 * MIN, T0 + 6 * MIN] });
  });

  it('exclusions: an excluded event between the steps named takes the entry out; outside them, not', () => {
    const funnel = parse({ steps, exclusions: [{ event: 'refund', between: [2, 3] }] });
    expect(matchJourney([at(0, 'a'), at(1, 'b'), at(2, 'refund'), at(3, 'c')], funnel)!.excluded).toBe(true);
    expect(matchJourney([at(0, 'a'), at(1, 'refund'), at(2, 'b'), at(3, 'c')], funnel)!.excluded).toBe(false);
    // Step 3 never reached: up to the end of the window.
    expect(matchJourney([at(0, 'a'), at(1, 'b'), at(50, 'refund')], funnel)!.excluded).toBe(true);
    expect(matchJourney([at(0, 'a'), at(1, 'b'), at(61, 'refund')], funnel)!.excluded).toBe(false);
    // Step 2 not reached: the exclusion does not begin.
    expect(matchJourney([at(0, 'a'), at(1, 'refund')], funnel)!.excluded).toBe(false);
  });
});

describe('bad definitions', () => {
  const steps = [{ name: 'A', event: 'a' }, { name: 'B', event: 'b' }, { name: 'C', event: 'c' }];
  it('get the field at fault', () => {
    const cases: [object, string][] = [
      [{ order: 'random', steps }, 'order'],
      [{ steps: [{ ...steps[0], within: '5m' }, steps[1]] }, 'steps[0].within'],
      [{ steps: [steps[0], { ...steps[1], within: '2h' }] }, 'steps[1].within'],
      [{ steps: [steps[0], { ...steps[1], within: 'soon' }] }, 'steps[1].within'],
      [{ order: 'any', steps: [steps[0], { ...steps[1], within: '5m' }] }, 'steps[1].within'],
      [{ steps, exclusions: [{ event: 'x', between: [0, 2] }] }, 'exclusions[0].between'],
      [{ steps, exclusions: [{ event: 'x', between: [2, 4] }] }, 'exclusions[0].between'],
      [{ steps, exclusions: [{ event: 'x', between: [3, 2] }] }, 'exclusions[0].between'],
      [{ steps, exclusions: [{ event: 'x', between: [2, 2] }] }, 'exclusions[0].between'],
      [{ steps, exclusions: [{ event: 'x', between: [1] }] }, 'exclusions[0].between'],
      [{ steps, exclusions: [{ between: [1, 2] }] }, 'exclusions[0].event'],
      [{ steps, exclusions: [{ event: 'x', between: [1, 2], when: 1 }] }, 'exclusions[0].when'],
      [{ steps, exclusions: 'none' }, 'exclusions'],
    ];
    for (const [body, field] of cases) {
      const parsed = parseFunnelDefinition({ name: 'F', window: '1h', ...body });
      expect(parsed.ok, JSON.stringify(body)).toBe(false);
      if (!parsed.ok) expect(parsed.field, JSON.stringify(body)).toBe(field);
    }
  });

  it('a definition without the new fields keeps its exact form', () => {
    const body = { name: 'F', window: '1h', steps: [{ name: 'A', event: 'a', path: '/' }, { name: 'B', event: 'b', props: { k: 'v' } }] };
    const parsed = parseFunnelDefinition(body);
    expect(parsed.ok && JSON.stringify(parsed.funnel.definition)).toBe(JSON.stringify(body));
  });
});
