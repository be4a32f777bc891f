// Webhook URL rules (no SSRF), the signature and the retry schedule.
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkWebhookUrl, isPrivateAddress, retryDelay, sign, MAX_RETRY_DELAY_MS, webhookPayload } from '../../src/leads/webhook.js';
import { DAY, lead, T0 } from './helpers.js';

describe('isPrivateAddress', () => {
  it.each(['127.0.0.1', '10.0.0.8', '172.16.5.4', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', '::', 'fd00::1', 'fe80::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:a00:1', 'not-an-ip'])(
    '%s is not on the internet', (address) => expect(isPrivateAddress(address)).toBe(true));
  it.each(['93.184.216.34', '8.8.8.8', '2606:4700::1111', '::ffff:8.8.8.8'])('%s is', (address) => expect(isPrivateAddress(address)).toBe(false));
});

describe('checkWebhookUrl', () => {
  it.each([
    'ftp://crm.example.com/', 'javascript:alert(1)', 'https://user:pass@crm.example.com/', 'https://crm.example.com/#x', '/relative',
    'http://127.0.0.1/', 'http://[::1]:8080/', 'http://localhost:3000/', 'http://crm.local/', 'http://intranet/', 'http://10.0.0.1/',
  ])('refuses %s by default', (url) => expect(checkWebhookUrl(url, false).ok).toBe(false));

  it('accepts public http(s) URLs, and loopback when allowed', () => {
    expect(checkWebhookUrl('https://api.hubapi.com/webhooks/v1/x?token=1', false).ok).toBe(true);
    expect(checkWebhookUrl('http://127.0.0.1:9000/hook', true).ok).toBe(true);
    expect(checkWebhookUrl('https://user:pass@127.0.0.1/', true).ok).toBe(false);
  });
});

describe('signature and retries', () => {
  it('signs the raw body with HMAC-SHA256 of the secret', () => {
    const body = '{"type":"lead.mql"}';
    expect(sign(body, 's3cret')).toBe(`sha256=${createHmac('sha256', 's3cret').update(body).digest('hex')}`);
  });

  it('backs off exponentially, capped', () => {
    expect([1, 2, 3, 4].map((n) => retryDelay(n, 1000))).toEqual([1000, 2000, 4000, 8000]);
    expect(retryDelay(40, 30_000)).toBe(MAX_RETRY_DELAY_MS);
  });
});

describe('webhookPayload', () => {
  it('announces an MQL with the score at that moment, and a won deal with its amount', () => {
    const record = lead('L1', [['lead', T0], ['mql', T0 + DAY], ['sal', T0 + 2 * DAY], ['sql', T0 + 3 * DAY], ['won', T0 + 4 * DAY, 99]], { channel: 'Email', source: 'newsletter' });
    record.score = { value: 40, at: T0 + DAY };
    expect(webhookPayload(record, record.changes[1], null)).toEqual({
      type: 'lead.mql', site: record.site, lead: 'L1', stage: 'mql', from: 'lead', at: new Date(T0 + DAY).toISOString(), score: 40,
      entry: { channel: 'Email', source: 'newsletter', medium: null, campaign: null, landing: '/' },
    });
    expect(webhookPayload(record, record.changes[4], null)).toMatchObject({ type: 'lead.stage', stage: 'won', from: 'sql', amount: 99, currency: 'USD' });
  });
});
