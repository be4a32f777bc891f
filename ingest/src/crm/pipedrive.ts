// Pipedrive (API v1, an API token): a lead becomes a person and a Pipedrive lead, made once and
// remembered; each stage change adds a note with the stage, score and first touch. Pipedrive's
// webhooks (basic auth) come back as deal events: a deal for the person is our SQL, a won or
// lost deal our won (with its value) or lost; a converted lead (deleted in v2 webhooks) our SQL.
import type { WebhookPayload } from '../leads/webhook.js';
import type { PipedriveConfig } from './config.js';
import { crmRequest } from './http.js';
import type { CrmContact } from './records.js';

export class PipedriveClient {
  constructor(private readonly apiUrl: string, private readonly config: PipedriveConfig) {}

  private call(method: string, path: string, body?: unknown, query: Record<string, string> = {}) {
    const params = new URLSearchParams({ ...query, api_token: this.config.apiToken });
    return crmRequest(method, `${this.apiUrl}${path}?${params}`, { body });
  }

  /**
   * Makes the person and the lead once (each id is handed to `keep` as soon as Pipedrive gives
   * it, so a retry never makes a second one), then notes the change.
   */
  async sync(payload: WebhookPayload, contact: CrmContact, email: string | null, keep: (contact: CrmContact) => Promise<void>): Promise<void> {
    const ids = { ...contact };
    if (ids.personId === undefined) {
      ids.personId = (email ? await this.findPerson(email) : null) ?? (await this.createPerson(payload.lead, email));
      await keep(ids);
    } else if (email) {
      await this.call('PUT', `/v1/persons/${ids.personId}`, { email: [{ value: email, primary: true, label: 'work' }] });
    }
    if (ids.leadId === undefined) {
      const lead = await this.call('POST', '/v1/leads', { title: `${payload.lead} (Funnelbeam)`, person_id: Number(ids.personId) });
      ids.leadId = String((lead.body as { data: { id: string } }).data.id);
      await keep(ids);
    }
    await this.call('POST', '/v1/notes', { lead_id: ids.leadId, content: noteOf(payload) });
  }

  /** An authenticated read that changes nothing (the dashboard's "send a test"). */
  async ping(): Promise<void> {
    await this.call('GET', '/v1/persons/search', undefined, { term: 'funnelbeam-connection-test', fields: 'email', exact_match: 'true', limit: '1' });
  }

  private async findPerson(email: string): Promise<string | null> {
    const found = await this.call('GET', '/v1/persons/search', undefined, { term: email, fields: 'email', exact_match: 'true', limit: '1' });
    const items = (found.body as { data?: { items?: { item: { id: number } }[] } }).data?.items ?? [];
    return items[0] ? String(items[0].item.id) : null;
  }

  private async createPerson(lead: string, email: string | null): Promise<string> {
    const person = await this.call('POST', '/v1/persons', {
      name: email ?? lead,
      ...(email ? { email: [{ value: email, primary: true, label: 'work' }] } : {}),
    });
    return String((person.body as { data: { id: number } }).data.id);
  }
}

/** A note a salesperson reads: what happened, the score, and where the lead came from. */
export function noteOf(payload: WebhookPayload): string {
  const { entry } = payload;
  const source = [entry.channel, entry.source, entry.medium].filter(Boolean).join(' / ');
  return [
    `Funnelbeam: ${payload.from === null ? 'new lead' : `stage ${payload.stage.toUpperCase()}`}`,
    `score ${payload.score}`,
    `source ${source}`,
    entry.campaign ? `campaign ${entry.campaign}` : null,
    entry.landing ? `landing page ${entry.landing}` : null,
    payload.amount !== undefined ? `value ${payload.amount} ${payload.currency ?? ''}`.trim() : null,
  ].filter(Boolean).join(' · ');
}

/** What a Pipedrive webhook means for our lead, found by the person or the Pipedrive lead. */
export type PipedriveMove =
  | { by: 'person'; personId: string; stage: 'sql' | 'won' | 'lost'; amount?: number; currency?: string }
  | { by: 'lead'; leadId: string; stage: 'sql' };

/** Reads a v1 or v2 webhook (they name almost everything differently); null when it means nothing for a lead. */
export function pipedriveMove(body: unknown): PipedriveMove | null {
  if (typeof body !== 'object' || body === null) return null;
  const hook = body as { meta?: Record<string, unknown>; current?: Record<string, unknown> | null; data?: Record<string, unknown> | null; previous?: Record<string, unknown> | null };
  const meta = hook.meta ?? {};
  const entity = String(meta.entity ?? meta.object ?? '');
  const action = String(meta.action ?? '');
  // A lead converted to a deal is deleted (v2; v1 has no lead events).
  if (entity === 'lead' && action === 'delete' && hook.previous && typeof hook.previous.id === 'string') {
    return { by: 'lead', leadId: hook.previous.id, stage: 'sql' };
  }
  if (entity !== 'deal') return null;
  const deal = hook.data ?? hook.current;
  if (!deal || deal.person_id === null || deal.person_id === undefined) return null;
  const personId = String(typeof deal.person_id === 'object' ? (deal.person_id as { value?: unknown }).value : deal.person_id);
  const status = String(deal.status ?? '');
  const value = Number(deal.value);
  if (status === 'won') {
    return { by: 'person', personId, stage: 'won', ...(Number.isFinite(value) && value > 0 && typeof deal.currency === 'string' ? { amount: value, currency: deal.currency } : {}) };
  }
  if (status === 'lost') return { by: 'person', personId, stage: 'lost' };
  if (action === 'create' || action === 'added') return { by: 'person', personId, stage: 'sql' };
  return null;
}
