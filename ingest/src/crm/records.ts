// What the connectors remember, in the store's small records: a lead's ids in each CRM (and the
// way back, for the CRM's webhooks), an e-mail until every CRM has it, each connector's last
// outcome, and the inbound webhooks already applied.
import type { Store } from '../store/types.js';
import type { Crm } from './config.js';

/** An e-mail nobody delivered is not kept longer than this. */
export const EMAIL_TTL_MS = 30 * 86_400_000;
/** A CRM retrying a webhook does so within hours; a replay after this could move a lead again. */
const SEEN_TTL_MS = 7 * 86_400_000;

/** A lead's ids in one CRM (HubSpot: contact; Pipedrive: person and lead). */
export interface CrmContact {
  contactId?: string;
  personId?: string;
  leadId?: string;
}

export interface CrmStatus {
  /** When the last delivery was tried, and how it went. */
  at: number;
  outcome: 'delivered' | 'retrying' | 'failed' | 'paused';
  error: string | null;
  /** Set by a 401 or 403: nothing is sent until the connector's token is replaced. */
  paused: boolean;
}

const id = (...parts: string[]) => parts.join('\n');

export class CrmRecords {
  constructor(private readonly store: Store) {}

  async contact(crm: Crm, site: string, lead: string): Promise<CrmContact> {
    const record = await this.store.getRecord('crm_contact', id(crm, site, lead), Date.now());
    return record ? (JSON.parse(record.body) as CrmContact) : {};
  }

  /** Stores a lead's ids, and each id's way back to the lead. */
  async saveContact(crm: Crm, site: string, lead: string, contact: CrmContact): Promise<void> {
    await this.store.putRecord({ kind: 'crm_contact', id: id(crm, site, lead), body: JSON.stringify(contact), expiresAt: null });
    for (const external of [contact.contactId, contact.personId, contact.leadId]) {
      if (external !== undefined) await this.store.putRecord({ kind: 'crm_ref', id: id(crm, site, external), body: JSON.stringify({ lead }), expiresAt: null });
    }
  }

  /** Our lead behind a CRM's id (contact, person or lead), or null. */
  async leadOf(crm: Crm, site: string, external: string): Promise<string | null> {
    const record = await this.store.getRecord('crm_ref', id(crm, site, external), Date.now());
    return record ? (JSON.parse(record.body) as { lead: string }).lead : null;
  }

  /** Keeps an e-mail for the CRMs that have yet to receive it. */
  async keepEmail(site: string, lead: string, email: string, crms: Crm[]): Promise<void> {
    if (crms.length === 0) return;
    await this.store.putRecord({
      kind: 'crm_email', id: id(site, lead), body: JSON.stringify({ email, pending: crms }), expiresAt: Date.now() + EMAIL_TTL_MS,
    });
  }

  /** The e-mail waiting for this CRM, if any. */
  async email(crm: Crm, site: string, lead: string): Promise<string | null> {
    const record = await this.store.getRecord('crm_email', id(site, lead), Date.now());
    if (!record) return null;
    const { email, pending } = JSON.parse(record.body) as { email: string; pending: Crm[] };
    return pending.includes(crm) ? email : null;
  }

  /** This CRM has the e-mail now; once every CRM has it, it is erased here. */
  async emailDelivered(crm: Crm, site: string, lead: string): Promise<void> {
    const record = await this.store.getRecord('crm_email', id(site, lead), Date.now());
    if (!record) return;
    const kept = JSON.parse(record.body) as { email: string; pending: Crm[] };
    const pending = kept.pending.filter((c) => c !== crm);
    if (pending.length === 0) await this.store.eraseRecord('crm_email', id(site, lead));
    else await this.store.putRecord({ ...record, body: JSON.stringify({ ...kept, pending }) });
  }

  /** Drops the e-mails waiting for a connector that was removed. */
  async dropEmails(crm: Crm, site: string): Promise<void> {
    for (const record of await this.store.listRecords('crm_email', Date.now())) {
      if (!record.id.startsWith(id(site, ''))) continue;
      const kept = JSON.parse(record.body) as { email: string; pending: Crm[] };
      if (kept.pending.includes(crm)) await this.emailDelivered(crm, site, record.id.slice(id(site, '').length));
    }
  }

  async status(crm: Crm, site: string): Promise<CrmStatus | null> {
    const record = await this.store.getRecord('crm_status', id(crm, site), Date.now());
    return record ? (JSON.parse(record.body) as CrmStatus) : null;
  }

  async setStatus(crm: Crm, site: string, status: CrmStatus | null): Promise<void> {
    if (status === null) await this.store.deleteRecord('crm_status', id(crm, site));
    else await this.store.putRecord({ kind: 'crm_status', id: id(crm, site), body: JSON.stringify(status), expiresAt: null });
  }

  /** Whether an inbound webhook was applied before (a replay). */
  async seen(crm: Crm, site: string, eventId: string): Promise<boolean> {
    return (await this.store.getRecord('crm_seen', id(crm, site, eventId), Date.now())) !== null;
  }

  /** Notes an inbound webhook as applied, once it was. */
  async markSeen(crm: Crm, site: string, eventId: string): Promise<void> {
    await this.store.putRecord({ kind: 'crm_seen', id: id(crm, site, eventId), body: '{}', expiresAt: Date.now() + SEEN_TTL_MS });
  }

  /** Forgets a lead's ids in every CRM (the lead was erased). */
  async forgetLead(site: string, lead: string, crms: readonly Crm[]): Promise<void> {
    for (const crm of crms) {
      const contact = await this.contact(crm, site, lead);
      for (const external of [contact.contactId, contact.personId, contact.leadId]) {
        if (external !== undefined) await this.store.deleteRecord('crm_ref', id(crm, site, external));
      }
      await this.store.deleteRecord('crm_contact', id(crm, site, lead));
    }
    await this.store.eraseRecord('crm_email', id(site, lead));
  }
}
