// Journeys counted as facts: how a store that matches journeys in its own query language (the
// ClickHouse store) hands them to the engine without sending one row per journey.
//
// Each journey states a few facts ("stopped at step 3", "spent 40 s between steps 1 and 2",
// "entered from Organic Search / google and converted"); the store groups equal facts and
// counts them; `aggregateFromFacts` turns the counted facts into the very aggregate that
// `aggregateJourneys` builds from the journeys. `factsOfJourney` is the definition the SQL
// follows, and what the tests hold both sides to.
import type { Journey } from './journey.js';
import {
  LEFT_SITE, bump, createFunnelAggregate, keyOf, mergeAggregates, toSecond, type BreakdownDimension, type FunnelAggregate,
} from './report.js';
import { DAY_MS, utcDay } from '../time.js';

export type FactKind = 'stop' | 'open' | 'exit' | 'next' | 'engaged' | 'scroll' | 'revenue' | 'source' | 'breakdown' | 'bopen' | 'day';

/**
 * One fact, `n` times. `step` is 0-based (for `source` and `day`: 1 when the journey
 * converted); `a`, `b`, `c` carry text, `value` a number, `amount` a revenue amount.
 * Values that may be missing travel as `-` (missing) or `+value`, as the aggregate keys them.
 */
export interface CountedFact {
  kind: FactKind;
  step: number;
  a: string;
  b: string;
  c: string;
  value: number;
  amount: number;
  n: number;
}

const absentOrValue = (key: string): string | null => (key === '-' ? null : key.slice(1));

/**
 * The facts of one journey, for a report at `now` broken down by `breakdown`. (Journeys that
 * stopped early and are closed at `now` state no `open` fact: the report never counts them.)
 */
export function factsOfJourney(journey: Journey, stepCount: number, now: number, breakdown: BreakdownDimension | null): CountedFact[] {
  const facts: CountedFact[] = [];
  const fact = (kind: FactKind, step: number, rest: Partial<CountedFact> = {}) =>
    facts.push({ kind, step, a: '', b: '', c: '', value: 0, amount: 0, n: 1, ...rest });
  const stop = journey.reached - 1;
  const converted = journey.reached === stepCount;
  const open = !converted && journey.openUntil >= now;
  fact('stop', stop);
  if (open) fact('open', stop, { value: journey.openUntil });
  if (!converted) fact('exit', stop, { a: journey.exitPath ?? LEFT_SITE });
  for (let k = 0; k <= stop; k++) {
    if (k < stop) fact('next', k, { value: journey.stepTimes[k + 1] - journey.stepTimes[k] });
    const stage = journey.stages[k];
    if (stage.engagedMs !== null) fact('engaged', k, { value: stage.engagedMs });
    if (stage.scroll !== null) fact('scroll', k, { value: stage.scroll });
  }
  if (converted && journey.revenue) fact('revenue', 0, { a: journey.revenue.currency, amount: journey.revenue.amount });
  const { channel, source, campaign } = journey.attribution;
  fact('source', converted ? 1 : 0, { a: channel, b: keyOf(source), c: keyOf(campaign) });
  if (breakdown) {
    const key = keyOf(journey.attribution[breakdown]);
    fact('breakdown', stop, { a: key });
    if (open) fact('bopen', stop, { a: key, value: journey.openUntil });
  }
  fact('day', converted ? 1 : 0, { value: Math.floor(journey.start / DAY_MS) });
  return facts;
}

/**
 * The aggregate of the journeys the facts were counted from, as `mergeAggregates` would leave it
 * for a report at `now` by `breakdown` (only open journeys' `openUntil`, one breakdown).
 */
export function aggregateFromFacts(
  facts: Iterable<CountedFact>,
  stepCount: number,
  breakdown: BreakdownDimension | null,
): FunnelAggregate {
  const aggregate = createFunnelAggregate(stepCount);
  for (const f of facts) {
    const step = aggregate.steps[f.step];
    switch (f.kind) {
      case 'stop': step.stopped += f.n; break;
      case 'open': for (let i = 0; i < f.n; i++) step.openUntil.push(f.value); break;
      case 'exit': bump(step.exitsTo, f.a, f.n); break;
      case 'next': bump(step.timeToNext, String(toSecond(f.value)), f.n); break;
      case 'engaged': bump(step.engagedMs, String(toSecond(f.value)), f.n); break;
      case 'scroll': bump(step.scroll, String(f.value), f.n); break;
      case 'revenue':
        bump(aggregate.revenueMicros, f.a, Math.round(f.amount * 1e6) * f.n);
        bump(aggregate.revenueCount, f.a, f.n);
        break;
      case 'source': {
        const converted = f.step === 1;
        const source = absentOrValue(f.b);
        const campaign = absentOrValue(f.c);
        const sourceKey = `${keyOf(f.a)}\n${f.b}`;
        const cell = (aggregate.sources[sourceKey] ??= { channel: f.a, source, entered: 0, converted: 0 });
        const byCampaign = (aggregate.campaigns[`${sourceKey}\n${f.c}`] ??= { channel: f.a, source, campaign, entered: 0, converted: 0 });
        for (const target of [cell, byCampaign]) {
          target.entered += f.n;
          if (converted) target.converted += f.n;
        }
        break;
      }
      case 'breakdown':
      case 'bopen': {
        if (!breakdown) break;
        const cell = (aggregate.breakdowns[breakdown][f.a] ??= {
          key: absentOrValue(f.a),
          stopped: new Array<number>(stepCount).fill(0),
          openUntil: Array.from({ length: stepCount }, () => []),
        });
        if (f.kind === 'breakdown') cell.stopped[f.step] += f.n;
        else for (let i = 0; i < f.n; i++) cell.openUntil[f.step].push(f.value);
        break;
      }
      case 'day': {
        const day = (aggregate.days[utcDay(f.value * DAY_MS)] ??= { entered: 0, converted: 0 });
        day.entered += f.n;
        if (f.step === 1) day.converted += f.n;
        break;
      }
    }
  }
  // openUntil lists must be sorted: merging into an empty aggregate sorts them.
  return mergeAggregates(createFunnelAggregate(stepCount), aggregate, { only: breakdown });
}
