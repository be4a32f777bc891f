// The sales funnel report over a set of leads. Pure.
//
// - The cohort is the leads named (created) in the range; each is followed to today.
// - `reached(k)`: leads that reached stage k or a later one, so the counts never rise from one
//   stage to the next, even for a lead that sales accepted without it being an MQL. A lost lead
//   counts as reaching the furthest stage it was in.
// - `conversion_rate(k) = reached(k+1) / reached(k)`; `close_rate = won / reached(sql)`.
// - `time_in_stage_ms`: from entering stage k to moving on to a later stage (a loss is not
//   moving on), for the leads that did; median and p90 are nearest-rank, so always measured.
// - `waiting`: the leads of the cohort in stage k now, and how long they have waited since
//   they entered it.
import type { LeadRecord } from './lead.js';
import { FUNNEL_STAGES, funnelIndex, type FunnelStage } from './stages.js';

export const SALES_BREAKDOWNS = ['channel', 'campaign'] as const;
export type SalesBreakdown = (typeof SALES_BREAKDOWNS)[number];

export interface Percentiles {
  median: number;
  p90: number;
}

export interface SalesStageReport {
  stage: FunnelStage;
  reached: number;
  /** reached(next) / reached(this); null for `won` and when nobody reached this stage. */
  conversion_rate: number | null;
  /** Leads lost while in this stage. */
  lost: number;
  time_in_stage_ms: Percentiles | null;
  /** Leads in this stage now (none for `won`: it is closed). */
  waiting: { count: number; median_ms: number | null; p90_ms: number | null; max_ms: number | null } | null;
}

export interface SalesBreakdownRow {
  key: string | null;
  leads: number;
  stages: { stage: FunnelStage; reached: number }[];
  won: number;
  close_rate: number | null;
  revenue: Record<string, number>;
}

export interface SalesFunnelReport {
  leads: number;
  won: number;
  lost: number;
  /** won / leads */
  conversion_rate: number | null;
  /** won / reached(sql) */
  close_rate: number | null;
  revenue: Record<string, number>;
  stages: SalesStageReport[];
  breakdown?: SalesBreakdownRow[];
}

export interface SalesFunnelOptions {
  fromMs: number;
  toMs: number;
  now: number;
  breakdown?: SalesBreakdown;
}

/** Nearest-rank percentile of ascending values: the value of rank ceil(p/100 × n). */
export function nearestRank(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1];
}

function percentiles(values: number[]): Percentiles | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return { median: nearestRank(sorted, 50)!, p90: nearestRank(sorted, 90)! };
}

const ratio = (a: number, b: number) => (b === 0 ? null : a / b);

/** The furthest funnel stage a lead reached (a lost one: the furthest it was in). */
export function furthestStage(record: LeadRecord): number {
  return Math.max(0, ...record.changes.map((c) => funnelIndex(c.stage)));
}

function revenueOf(leads: readonly LeadRecord[]): Record<string, number> {
  const revenue: Record<string, number> = {};
  for (const lead of leads) {
    const won = lead.changes.find((c) => c.stage === 'won');
    if (won && won.amount !== null && won.currency !== null) {
      revenue[won.currency] = Math.round(((revenue[won.currency] ?? 0) + won.amount) * 100) / 100;
    }
  }
  return revenue;
}

function reachedCounts(leads: readonly LeadRecord[]): number[] {
  const reached = FUNNEL_STAGES.map(() => 0);
  for (const lead of leads) {
    const furthest = furthestStage(lead);
    for (let k = 0; k <= furthest; k++) reached[k]++;
  }
  return reached;
}

export function salesFunnelReport(all: readonly LeadRecord[], options: SalesFunnelOptions): SalesFunnelReport {
  const leads = all.filter((l) => l.createdAt >= options.fromMs && l.createdAt < options.toMs);
  const reached = reachedCounts(leads);
  const durations: number[][] = FUNNEL_STAGES.map(() => []);
  const waits: number[][] = FUNNEL_STAGES.map(() => []);
  const lostFrom = FUNNEL_STAGES.map(() => 0);
  let lost = 0;

  for (const lead of leads) {
    const changes = lead.changes;
    for (let i = 0; i < changes.length; i++) {
      const k = funnelIndex(changes[i].stage);
      if (k < 0) continue;
      const next = changes.slice(i + 1).find((c) => funnelIndex(c.stage) > k);
      if (next) durations[k].push(next.at - changes[i].at);
    }
    if (lead.stage === 'lost') {
      lost++;
      const from = changes[changes.length - 1].from;
      if (from !== null && funnelIndex(from) >= 0) lostFrom[funnelIndex(from)]++;
    } else if (lead.stage !== 'won') {
      waits[funnelIndex(lead.stage)].push(Math.max(0, options.now - lead.stageAt));
    }
  }

  const won = reached[FUNNEL_STAGES.length - 1];
  const sql = reached[funnelIndex('sql')];
  const report: SalesFunnelReport = {
    leads: leads.length,
    won,
    lost,
    conversion_rate: ratio(won, leads.length),
    close_rate: ratio(won, sql),
    revenue: revenueOf(leads),
    stages: FUNNEL_STAGES.map((stage, k) => {
      const sorted = [...waits[k]].sort((a, b) => a - b);
      return {
        stage,
        reached: reached[k],
        conversion_rate: k + 1 < FUNNEL_STAGES.length ? ratio(reached[k + 1], reached[k]) : null,
        lost: lostFrom[k],
        time_in_stage_ms: percentiles(durations[k]),
        waiting: stage === 'won' ? null : {
          count: sorted.length,
          median_ms: nearestRank(sorted, 50),
          p90_ms: nearestRank(sorted, 90),
          max_ms: sorted.length > 0 ? sorted[sorted.length - 1] : null,
        },
      };
    }),
  };

  if (options.breakdown) {
    const dimension = options.breakdown;
    const groups = new Map<string | null, LeadRecord[]>();
    for (const lead of leads) {
      const k = lead.entry[dimension];
      const group = groups.get(k);
      if (group) group.push(lead);
      else groups.set(k, [lead]);
    }
    report.breakdown = [...groups.entries()]
      .map(([k, group]) => {
        const counts = reachedCounts(group);
        const groupWon = counts[FUNNEL_STAGES.length - 1];
        return {
          key: k,
          leads: group.length,
          stages: FUNNEL_STAGES.map((stage, i) => ({ stage, reached: counts[i] })),
          won: groupWon,
          close_rate: ratio(groupWon, counts[funnelIndex('sql')]),
          revenue: revenueOf(group),
        };
      })
      .sort((a, b) => b.leads - a.leads || String(a.key).localeCompare(String(b.key)));
  }
  return report;
}
