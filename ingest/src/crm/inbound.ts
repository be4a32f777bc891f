// A CRM's stage, applied to our lead. The sales side may only move forward one stage at a time
// (but for lead → SAL), while a CRM reports where the deal is now: a deal marked won in
// Pipedrive for a lead that is only an MQL here passes through SAL and SQL on the way.
import type { Store } from '../store/types.js';
import type { StageMoveResult } from '../leads/lead.js';
import type { LeadStage, SalesStage } from '../leads/stages.js';

const FORWARD: readonly LeadStage[] = ['lead', 'mql', 'sal', 'sql', 'won'];

/** The next stage from `current` on the way to `target`, or null when there is none to take. */
export function nextStageToward(current: LeadStage, target: SalesStage): SalesStage | null {
  if (target === 'lost') return null;
  const from = FORWARD.indexOf(current);
  const to = FORWARD.indexOf(target);
  if (from < 0 || from + 1 >= to) return null;
  return current === 'lead' || current === 'mql' ? 'sal' : (FORWARD[from + 1] as SalesStage);
}

/** Moves the lead to `target`, through the stages between if it must; the last move's answer. */
export async function moveThrough(
  store: Store, site: string, lead: string, target: SalesStage, at: number, value: { amount?: number; currency?: string } = {},
): Promise<StageMoveResult> {
  // Each step moves one stage forward, so a few passes reach any target.
  for (let pass = 0; ; pass++) {
    const result = await store.moveLeadStage(site, lead, { stage: target, at, ...(target === 'won' ? value : {}) });
    if (result.ok || result.reason !== 'illegal') return result;
    const next = nextStageToward(result.stage, target);
    if (next === null || pass >= FORWARD.length) return result;
    const step = await store.moveLeadStage(site, lead, { stage: next, at });
    if (!step.ok) return step;
  }
}
