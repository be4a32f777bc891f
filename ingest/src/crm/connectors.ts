// Delivers the outbox's CRM deliveries (leads/outbound.ts) through each connector, and keeps
// what the dashboard shows of it: each connector's last outcome, paused on a refused token.
import type { DeliveryOutcome, Store, WebhookDelivery } from '../store/types.js';
import { retryDelay, type WebhookOptions, type WebhookPayload } from '../leads/webhook.js';
import { redactEmails } from '../enrich/privacy.js';
import { CRMS, type Crm, type HubSpotConfig, type PipedriveConfig } from './config.js';
import { CrmError, type CrmFailure } from './http.js';
import { HubSpotClient } from './hubspot.js';
import { PipedriveClient } from './pipedrive.js';
import { CrmRecords, type CrmContact, type CrmStatus } from './records.js';

export interface CrmApiUrls {
  hubspot: string;
  pipedrive: string;
}

export const DEFAULT_CRM_API_URLS: CrmApiUrls = { hubspot: 'https://api.hubapi.com', pipedrive: 'https://api.pipedrive.com' };

export class CrmConnectors {
  readonly records: CrmRecords;
  /** HubSpot tokens whose account has our custom properties (checked once per process). */
  private readonly propertiesReady = new Set<string>();

  constructor(private readonly store: Store, private readonly urls: CrmApiUrls, private readonly options: WebhookOptions) {
    this.records = new CrmRecords(store);
  }

  async deliver(delivery: WebhookDelivery): Promise<DeliveryOutcome> {
    const crm = delivery.target as Crm;
    const config = (await this.store.getLeadSettings(delivery.site))[crm];
    if (!config) return { status: 'failed', error: `the site has no ${crm} connector any more` };
    const status = await this.records.status(crm, delivery.site);
    // Held, not attempted: the deliveries wait for a new token without using up their retries.
    if (status?.paused) return { status: 'hold', at: Date.now() + this.options.retryBaseMs, error: status.error ?? 'paused' };
    const payload = JSON.parse(delivery.body) as WebhookPayload;
    const { site, lead } = delivery;
    try {
      const [contact, email] = await Promise.all([this.records.contact(crm, site, lead), this.records.email(crm, site, lead)]);
      const keep = (ids: CrmContact) => this.records.saveContact(crm, site, lead, ids);
      if (crm === 'hubspot') await this.syncHubSpot(config as HubSpotConfig, payload, contact, email, keep);
      else await new PipedriveClient(this.urls.pipedrive, config as PipedriveConfig).sync(payload, contact, email, keep);
      if (email) await this.records.emailDelivered(crm, site, lead);
      await this.note(crm, site, { outcome: 'delivered', error: null, paused: false });
      return { status: 'delivered' };
    } catch (error) {
      return this.failed(crm, site, delivery.attempts + 1, failureOf(error));
    }
  }

  /** Keeps an e-mail sent with an event for the site's CRM connectors; with none, it is not kept at all. */
  async keepEmail(site: string, lead: string, email: string): Promise<void> {
    const settings = await this.store.getLeadSettings(site);
    await this.records.keepEmail(site, lead, email, CRMS.filter((crm) => settings[crm] !== null));
  }

  /** The dashboard's "send a test": an authenticated call that reads (and, for HubSpot, sets up our properties), creating nothing else. */
  async test(site: string, crm: Crm): Promise<CrmStatus> {
    const config = (await this.store.getLeadSettings(site))[crm];
    if (!config) throw new Error(`no ${crm} connector`);
    try {
      if (crm === 'hubspot') {
        const client = new HubSpotClient(this.urls.hubspot, config as HubSpotConfig);
        await client.ensureProperties();
        this.propertiesReady.add((config as HubSpotConfig).accessToken);
      } else {
        await new PipedriveClient(this.urls.pipedrive, config as PipedriveConfig).ping();
      }
      return await this.note(crm, site, { outcome: 'delivered', error: null, paused: false });
    } catch (error) {
      const failure = failureOf(error);
      return this.note(crm, site, { outcome: failure.kind === 'unauthorized' ? 'paused' : 'failed', error: failure.error, paused: failure.kind === 'unauthorized' });
    }
  }

  private async syncHubSpot(config: HubSpotConfig, payload: WebhookPayload, contact: CrmContact, email: string | null, keep: (ids: CrmContact) => Promise<void>) {
    const client = new HubSpotClient(this.urls.hubspot, config);
    if (!this.propertiesReady.has(config.accessToken)) {
      await client.ensureProperties();
      this.propertiesReady.add(config.accessToken);
    }
    const id = await client.sync(payload, contact, email);
    if (id !== contact.contactId) await keep({ ...contact, contactId: id });
  }

  private async failed(crm: Crm, site: string, attempts: number, failure: CrmFailure): Promise<DeliveryOutcome> {
    if (failure.kind === 'unauthorized') {
      await this.note(crm, site, { outcome: 'paused', error: failure.error, paused: true });
      return { status: 'hold', at: Date.now() + this.options.retryBaseMs, error: failure.error };
    }
    if (failure.kind === 'rejected' || attempts >= this.options.maxAttempts) {
      await this.note(crm, site, { outcome: 'failed', error: failure.error, paused: false });
      return { status: 'failed', error: failure.error };
    }
    await this.note(crm, site, { outcome: 'retrying', error: failure.error, paused: false });
    // As the CRM asked (a 429's Retry-After), else with our backoff.
    return { status: 'retry', at: Date.now() + (failure.retryAfterMs ?? retryDelay(attempts, this.options.retryBaseMs)), error: failure.error };
  }

  private async note(crm: Crm, site: string, status: Omit<CrmStatus, 'at'>): Promise<CrmStatus> {
    const noted = { ...status, at: Date.now() };
    await this.records.setStatus(crm, site, noted);
    return noted;
  }
}

/** A failure as the outbox keeps it; a CRM echoing an e-mail back must not put it in the store. */
function failureOf(error: unknown): CrmFailure {
  const failure: CrmFailure = error instanceof CrmError ? error.failure : { kind: 'retry', error: (error as Error).message, retryAfterMs: null };
  return { ...failure, error: redactEmails(failure.error) };
}
