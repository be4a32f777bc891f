// The sales funnel's stage machine: lead → mql → sal → sql → won | lost.
//
// - `lead`: the lead was named (signup, or the server), `mql`: its score reached the site's
//   threshold (set by scoring only, never by the API), `sal`: sales accepted it, `sql`: sales
//   qualified it, `won` (with an amount) and `lost` close it.
// - Moves go forward one stage at a time, except that sales may accept a lead that is not yet
//   an MQL (lead → sal): a lead from a call or a fair is accepted without marketing's score.
// - `lost` is allowed from every open stage. Nothing leaves `won` or `lost`.
// - Repeating the move to the stage a lead is in changes nothing (a CRM retrying is not an
//   error); any other move is illegal (the API answers 409).

export const STAGES = ['lead', 'mql', 'sal', 'sql', 'won', 'lost'] as const;
export type LeadStage = (typeof STAGES)[number];

/** The stages of the sales funnel, in order (`lost` is a way out, not a step). */
export const FUNNEL_STAGES = ['lead', 'mql', 'sal', 'sql', 'won'] as const;
export type FunnelStage = (typeof FUNNEL_STAGES)[number];

/** The stages the sales side sets through the API. */
export const SALES_STAGES = ['sal', 'sql', 'won', 'lost'] as const;
export type SalesStage = (typeof SALES_STAGES)[number];

const LEGAL_FROM: Record<LeadStage, readonly LeadStage[]> = {
  lead: [],
  mql: ['lead'],
  sal: ['lead', 'mql'],
  sql: ['sal'],
  won: ['sql'],
  lost: ['lead', 'mql', 'sal', 'sql'],
};

export const isClosed = (stage: LeadStage) => stage === 'won' || stage === 'lost';

export type MoveCheck = { ok: true; changed: boolean } | { ok: false; error: string };

/** May a lead in `from` move to `to`? `changed: false` for a repeat of the current stage. */
export function checkMove(from: LeadStage, to: LeadStage): MoveCheck {
  if (from === to) return { ok: true, changed: false };
  if (LEGAL_FROM[to].includes(from)) return { ok: true, changed: true };
  if (isClosed(from)) return { ok: false, error: `the lead is ${from}: a closed lead does not move` };
  return {
    ok: false,
    error: `a lead in ${from} cannot move to ${to}` +
      (LEGAL_FROM[to].length > 0 ? ` (only from ${LEGAL_FROM[to].join(' or ')})` : ''),
  };
}

/** Position in the funnel; `lost` has none (it is not a step). */
export function funnelIndex(stage: LeadStage): number {
  return (FUNNEL_STAGES as readonly string[]).indexOf(stage);
}
