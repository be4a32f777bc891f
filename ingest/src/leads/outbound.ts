// Where a lead's stage changes go out to: the site's webhook and its CRM connectors. Each
// change makes one delivery per target enabled when it happened, sent on its own (a CRM that
// is down holds back neither the webhook nor the other CRM), in order per lead and target.
import type { StageChange } from './lead.js';

export const OUTBOUND_TARGETS = ['webhook', 'hubspot', 'pipedrive'] as const;
export type OutboundTarget = (typeof OUTBOUND_TARGETS)[number];

/** The webhook hears of MQLs and sales moves (as it always has); a CRM also of a new lead, to create the contact. */
export function targetsFor(enabled: Iterable<OutboundTarget>, change: StageChange): OutboundTarget[] {
  const created = change.from === null;
  return OUTBOUND_TARGETS.filter((target) => [...enabled].includes(target) && !(created && target === 'webhook'));
}

/** A delivery's id per target: the webhook's keeps the id it always had. */
export function targetDeliveryId(id: string, target: OutboundTarget): string {
  return target === 'webhook' ? id : `${id}:${target}`;
}
