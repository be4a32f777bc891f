// FunnelAggregate ↔ text, for stores that persist the day aggregates of final entries and
// collectors that share the live ones. Plain JSON, except that the sorted `openUntil` lists (one
// time per journey that stopped early, the bulk of an aggregate) travel as differences from the
// value before, which are small numbers.
import type { FunnelAggregate, SortedTimes } from './report.js';

function deltas(times: SortedTimes): number[] {
  return times.map((t, i) => (i === 0 ? t : t - times[i - 1]));
}

function undeltas(values: number[]): SortedTimes {
  let running = 0;
  return values.map((value) => (running += value));
}

export function encodeAggregate(aggregate: FunnelAggregate): string {
  return JSON.stringify({
    ...aggregate,
    steps: aggregate.steps.map((step) => ({ ...step, openUntil: deltas(step.openUntil) })),
    breakdowns: Object.fromEntries(Object.entries(aggregate.breakdowns).map(([dimension, cells]) => [
      dimension,
      Object.fromEntries(Object.entries(cells).map(([key, cell]) => [key, { ...cell, openUntil: cell.openUntil.map(deltas) }])),
    ])),
  });
}

export function decodeAggregate(text: string): FunnelAggregate {
  const aggregate = JSON.parse(text) as FunnelAggregate;
  // Aggregates persisted before exclusions existed have none.
  aggregate.excluded ??= 0;
  // Nor times to convert (funnels are computed again when the format changes: funnelRuntime.ts).
  aggregate.timeToConvert ??= {};
  for (const step of aggregate.steps) step.openUntil = undeltas(step.openUntil);
  for (const cells of Object.values(aggregate.breakdowns)) {
    for (const cell of Object.values(cells)) cell.openUntil = cell.openUntil.map(undeltas);
  }
  return aggregate;
}
