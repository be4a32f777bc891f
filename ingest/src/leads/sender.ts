// Delivers the outbox: due deliveries to the webhook are POSTed, signed, to the site's URL; a
// failure (network, timeout, non-2xx) is retried with exponential backoff. Deliveries to a CRM
// go through its connector (crm/connectors.ts). The outbox lives in the store, so a pending
// delivery survives a restart.
import http from 'node:http';
import https from 'node:https';
import type { Store, WebhookDelivery } from '../store/types.js';
import type { CrmConnectors } from '../crm/connectors.js';
import { guardedLookup, retryDelay, sign, SIGNATURE_HEADER, type WebhookOptions } from './webhook.js';

const BATCH = 20;
/** Bytes of a failure reply kept for the operator. */
const ERROR_SNIPPET = 200;

export interface DeliveryResult {
  ok: boolean;
  error: string | null;
}

/** POSTs a body; redirects are not followed (each hop would need the same address checks). */
export function postSigned(url: string, body: string, secret: string, headers: Record<string, string>, options: WebhookOptions): Promise<DeliveryResult> {
  const target = new URL(url);
  const client = target.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    const request = client.request(target, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        'user-agent': 'Funnelbeam-Webhook/1',
        [SIGNATURE_HEADER]: sign(body, secret),
        ...headers,
      },
      lookup: guardedLookup(options.allowPrivateAddresses),
      timeout: options.timeoutMs,
    }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => { if (text.length < ERROR_SNIPPET) text += chunk; });
      response.on('end', () => {
        const status = response.statusCode ?? 0;
        resolve(status >= 200 && status < 300 ? { ok: true, error: null } : { ok: false, error: `HTTP ${status} ${text.slice(0, ERROR_SNIPPET)}`.trim() });
      });
      response.on('error', (error) => resolve({ ok: false, error: error.message }));
    });
    request.on('timeout', () => request.destroy(new Error(`no reply within ${options.timeoutMs} ms`)));
    request.on('error', (error) => resolve({ ok: false, error: error.message }));
    request.end(body);
  });
}

export class WebhookSender {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly options: WebhookOptions,
    private readonly crm: CrmConnectors,
    private readonly log: (error: unknown) => void = () => {},
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.options.pollMs);
    this.timer.unref();
  }

  /** Stops polling and waits for the deliveries under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** Sends what is due now; overlapping calls share the round under way. */
  tick(): Promise<void> {
    this.running ??= this.deliverDue().catch(this.log).finally(() => { this.running = null; });
    return this.running;
  }

  /** Rounds of BATCH deliveries in parallel, until none is due (a burst of MQLs drains at once). */
  private async deliverDue(): Promise<void> {
    while (!this.stopped) {
      const due = await this.store.dueWebhookDeliveries(Date.now(), BATCH);
      await Promise.all(due.map((delivery) => this.deliver(delivery)));
      if (due.length < BATCH) return;
    }
  }

  private async deliver(delivery: WebhookDelivery): Promise<void> {
    if (delivery.target !== 'webhook') {
      await this.store.settleWebhookDelivery(delivery.id, await this.crm.deliver(delivery));
      return;
    }
    const { webhook } = await this.store.getLeadSettings(delivery.site);
    if (!webhook) {
      await this.store.settleWebhookDelivery(delivery.id, { status: 'failed', error: 'the site has no webhook any more' });
      return;
    }
    const result = await postSigned(webhook.url, delivery.body, webhook.secret, {
      'x-funnelbeam-event': delivery.type,
      'x-funnelbeam-delivery': delivery.id,
    }, this.options);
    const attempts = delivery.attempts + 1;
    if (result.ok) await this.store.settleWebhookDelivery(delivery.id, { status: 'delivered' });
    else if (attempts >= this.options.maxAttempts) await this.store.settleWebhookDelivery(delivery.id, { status: 'failed', error: result.error ?? 'failed' });
    else {
      await this.store.settleWebhookDelivery(delivery.id, {
        status: 'retry', at: Date.now() + retryDelay(attempts, this.options.retryBaseMs), error: result.error ?? 'failed',
      });
    }
  }
}
