// HubSpot (CRM v3, a private app's token): a lead becomes a contact, found by the id we keep or
// by e-mail, never created twice; its lifecycle stage, score and first touch are set as
// properties. HubSpot's own webhooks (contact.propertyChange on lifecyclestage) come back
// signed (v3), and move our lead.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { WebhookPayload } from '../leads/webhook.js';
import type { LeadStage } from '../leads/stages.js';
import type { HubSpotConfig } from './config.js';
import { CrmError, crmRequest } from './http.js';
import type { CrmContact } from './records.js';

/** Our custom contact properties, created once per account (their group is HubSpot's default one). */
export const HUBSPOT_PROPERTIES = [
  { name: 'funnelbeam_lead_id', label: 'Funnelbeam lead id', type: 'string', fieldType: 'text' },
  { name: 'funnelbeam_score', label: 'Funnelbeam score', type: 'number', fieldType: 'number' },
  { name: 'funnelbeam_source', label: 'Funnelbeam first-touch source', type: 'string', fieldType: 'text' },
  { name: 'funnelbeam_medium', label: 'Funnelbeam first-touch medium', type: 'string', fieldType: 'text' },
  { name: 'funnelbeam_campaign', label: 'Funnelbeam first-touch campaign', type: 'string', fieldType: 'text' },
  { name: 'funnelbeam_landing_page', label: 'Funnelbeam landing page', type: 'string', fieldType: 'text' },
] as const;

/** A signed webhook older than this is refused (HubSpot's own advice: 5 minutes). */
export const MAX_WEBHOOK_AGE_MS = 5 * 60_000;

export class HubSpotClient {
  constructor(private readonly apiUrl: string, private readonly config: HubSpotConfig) {}

  private call(method: string, path: string, body?: unknown, accept?: readonly number[]) {
    return crmRequest(method, `${this.apiUrl}${path}`, { headers: { authorization: `Bearer ${this.config.accessToken}` }, body, accept });
  }

  /** Creates the custom properties this account lacks. */
  async ensureProperties(): Promise<void> {
    for (const property of HUBSPOT_PROPERTIES) {
      const found = await this.call('GET', `/crm/v3/properties/contacts/${property.name}`, undefined, [200, 404]);
      if (found.status === 404) {
        // 409: another collector (or an earlier try) created it meanwhile.
        await this.call('POST', '/crm/v3/properties/contacts', { ...property, groupName: 'contactinformation', description: 'Set by Funnelbeam' }, [200, 201, 409]);
      }
    }
  }

  /** Creates or updates the lead's contact; returns its id (kept by the caller before anything else can fail). */
  async sync(payload: WebhookPayload, contact: CrmContact, email: string | null): Promise<string> {
    const properties: Record<string, string> = {
      funnelbeam_lead_id: payload.lead,
      funnelbeam_score: String(payload.score),
      funnelbeam_source: payload.entry.source ?? payload.entry.channel,
      funnelbeam_medium: payload.entry.medium ?? '',
      funnelbeam_campaign: payload.entry.campaign ?? '',
      funnelbeam_landing_page: payload.entry.landing ?? '',
    };
    const lifecycle = this.config.stages[payload.stage as LeadStage];
    if (lifecycle) properties.lifecyclestage = lifecycle;
    if (email) properties.email = email;

    let id = contact.contactId ?? (email ? await this.findByEmail(email) : null);
    if (id !== null && (await this.update(id, properties))) return id;
    // Not known yet (or deleted in HubSpot since): create it; a contact with that e-mail made
    // meanwhile answers 409 with its id.
    const created = await this.call('POST', '/crm/v3/objects/contacts', { properties }, [201, 409]);
    if (created.status === 201) return String((created.body as { id: string }).id);
    id = /Existing ID: (\d+)/.exec(String((created.body as { message?: string } | null)?.message ?? ''))?.[1] ?? null;
    if (id === null || !(await this.update(id, properties))) throw new CrmError({ kind: 'retry', error: 'HubSpot said the contact exists but not which one', retryAfterMs: null });
    return id;
  }

  private async findByEmail(email: string): Promise<string | null> {
    const found = await this.call('POST', '/crm/v3/objects/contacts/search', {
      filterGroups: [{ filters: [{ propertyName: 'email', operator: 'EQ', value: email }] }], properties: ['email'], limit: 1,
    });
    const results = (found.body as { results?: { id: string }[] }).results ?? [];
    return results[0] ? String(results[0].id) : null;
  }

  /** False when HubSpot has no such contact (any more). */
  private async update(id: string, properties: Record<string, string>): Promise<boolean> {
    const reply = await this.call('PATCH', `/crm/v3/objects/contacts/${encodeURIComponent(id)}`, { properties }, [200, 404]);
    return reply.status === 200;
  }
}

// ---- Inbound webhooks

// HubSpot decodes these escapes (and only these) in the URI before signing it (its "Validating
// requests" page, v3).
const DECODED_IN_URI: Record<string, string> = {
  '%3A': ':', '%2F': '/', '%3F': '?', '%40': '@', '%21': '!', '%24': '$', '%27': "'", '%28': '(', '%29': ')', '%2A': '*', '%2C': ',', '%3B': ';',
};

/** Checks X-HubSpot-Signature-v3 (base64 HMAC-SHA256 of method + URI + body + timestamp) and the timestamp's age. */
export function verifyHubSpotSignature(
  clientSecret: string, request: { method: string; uri: string; body: string; signature: string | undefined; timestamp: string | undefined }, now = Date.now(),
): { ok: true } | { ok: false; error: string } {
  const timestamp = Number(request.timestamp);
  if (!request.signature || !Number.isFinite(timestamp)) return { ok: false, error: 'X-HubSpot-Signature-v3 and X-HubSpot-Request-Timestamp are required' };
  if (Math.abs(now - timestamp) > MAX_WEBHOOK_AGE_MS) return { ok: false, error: 'the request timestamp is more than 5 minutes off' };
  const uri = request.uri.replace(/%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)/gi, (escape) => DECODED_IN_URI[escape.toUpperCase()]);
  const expected = createHmac('sha256', clientSecret).update(`${request.method}${uri}${request.body}${request.timestamp}`, 'utf8').digest();
  const presented = Buffer.from(request.signature, 'base64');
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) return { ok: false, error: 'the signature does not match' };
  return { ok: true };
}

export interface HubSpotStageChange {
  eventId: string;
  contactId: string;
  value: string;
  at: number;
}

/** The lifecycle stage changes among a webhook's events (other events are not ours to act on). */
export function lifecycleChanges(body: unknown): HubSpotStageChange[] | null {
  if (!Array.isArray(body)) return null;
  return body.flatMap((event: Record<string, unknown>) => {
    if (typeof event !== 'object' || event === null) return [];
    if (event.subscriptionType !== 'contact.propertyChange' || event.propertyName !== 'lifecyclestage') return [];
    if (event.objectId === undefined || typeof event.propertyValue !== 'string') return [];
    const at = Number(event.occurredAt);
    return [{ eventId: String(event.eventId ?? `${event.objectId}:${event.occurredAt}`), contactId: String(event.objectId), value: event.propertyValue, at: Number.isFinite(at) ? at : Date.now() }];
  });
}
