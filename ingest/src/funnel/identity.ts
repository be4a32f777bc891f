// Which unit an event counts under: a visitor's own, or its lead's.
//
// A visitor is linked to a lead by the first event of it that names one (in order of arrival,
// as the lead tracker links it). From then on the visitor's events count under the lead, and so
// do those of the IDENTITY_LOOKBACK_MS before: the anonymous landing that led to a popup signup
// stays part of the lead's journey. The visitor's older events stay its own. Bounding how far
// back a link reaches is what lets a funnel's closed windows stay final (horizon.ts): a link
// never moves an event that is already counted in a window that closed.
import { HOUR_MS } from '../time.js';

export const IDENTITY_LOOKBACK_MS = 2 * HOUR_MS;

export interface IdentityLink {
  lead: string;
  /** ts of the event that named the lead. */
  at: number;
}

export const visitorUnit = (visitor: string) => `visitor:${visitor}`;
export const leadUnit = (lead: string) => `lead:${lead}`;

/** Does this event of a linked visitor count under its lead? */
export function joinsLead(event: { ts: number }, link: IdentityLink): boolean {
  return event.ts >= link.at - IDENTITY_LOOKBACK_MS;
}

/** The unit key of an event of `visitor`, given the visitor's link (undefined: not linked). */
export function unitOf(event: { ts: number }, visitor: string, link: IdentityLink | undefined): string {
  return link && joinsLead(event, link) ? leadUnit(link.lead) : visitorUnit(visitor);
}
