// Accounts on both stores: account records (users, sessions, keys, shared links) and the audit
// log read back alike on SQLite and ClickHouse; and two collectors on one ClickHouse agree on
// users, sessions, keys and links at once, whichever of them was asked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccountRecord, AuditEntry, Store } from '../../src/store/types.js';
import { startCollector, type RunningCollector } from '../../../test-support/collector.js';
import { login, signIn, withSession } from '../accounts/helpers.js';
import { bothStores, skipClickHouse } from './bothStores.js';
import { limitFor } from '../../../test-support/clickhouse.js';

const both = bothStores('account_conformance');
const NOW = Date.UTC(2026, 5, 1, 12);

async function exercise(store: Store) {
  const record = (id: string, body: string, expiresAt: number | null = null): AccountRecord => ({ kind: 'user', id, body, expiresAt });
  await store.putRecord(record('u1', '{"v":1}'));
  await store.putRecord(record('u2', '{"v":2}'));
  await store.putRecord(record('u1', '{"v":3}')); // replaced
  await store.putRecord({ kind: 'session', id: 's-live', body: '{}', expiresAt: NOW + 1000 });
  await store.putRecord({ kind: 'session', id: 's-ended', body: '{}', expiresAt: NOW - 1 });
  const deletedU2 = await store.deleteRecord('user', 'u2');
  const deletedAgain = await store.deleteRecord('user', 'u2');
  await store.putRecord(record('u3', '{"v":4}'));
  const audit: AuditEntry[] = [
    { at: NOW - 3, actor: 'owner', action: 'site.create', site: null, target: 'shop.example.com' },
    { at: NOW - 2, actor: 'user:a@example.com', action: 'funnel.save', site: 'shop.example.com', target: 'f' },
    { at: NOW - 1, actor: 'key:crm', action: 'lead.stage', site: 'shop.example.com', target: 'crm-1' },
  ];
  for (const entry of audit) await store.appendAudit(entry);
  const before = {
    users: await store.listRecords('user', NOW),
    u1: await store.getRecord('user', 'u1', NOW),
    u2: await store.getRecord('user', 'u2', NOW),
    otherKind: await store.getRecord('key', 'u1', NOW),
    sessions: (await store.listRecords('session', NOW)).map((r) => r.id),
    ended: await store.getRecord('session', 's-ended', NOW),
    live: await store.getRecord('session', 's-live', NOW),
    liveLater: await store.getRecord('session', 's-live', NOW + 1000),
    deletedU2, deletedAgain,
    audit: await store.listAudit(NOW + 1, 10),
    auditBefore: await store.listAudit(NOW - 1, 1),
  };
  await store.deleteExpiredRecords(NOW);
  const afterPurge = (await store.listRecords('session', NOW - 10)).map((r) => r.id);
  return { ...before, afterPurge };
}

describe.skipIf(skipClickHouse)('account records and the audit log', () => {
  it('read back alike on SQLite and ClickHouse', async () => {
    const sqlite = await exercise(both.sqlite);
    const clickhouse = await exercise(both.clickhouse);
    expect(sqlite).toEqual({
      users: [
        { kind: 'user', id: 'u1', body: '{"v":3}', expiresAt: null },
        { kind: 'user', id: 'u3', body: '{"v":4}', expiresAt: null },
      ],
      u1: { kind: 'user', id: 'u1', body: '{"v":3}', expiresAt: null },
      u2: null,
      otherKind: null,
      sessions: ['s-live'],
      ended: null,
      live: { kind: 'session', id: 's-live', body: '{}', expiresAt: NOW + 1000 },
      liveLater: null,
      deletedU2: true,
      deletedAgain: false,
      audit: [
        { at: NOW - 1, actor: 'key:crm', action: 'lead.stage', site: 'shop.example.com', target: 'crm-1' },
        { at: NOW - 2, actor: 'user:a@example.com', action: 'funnel.save', site: 'shop.example.com', target: 'f' },
        { at: NOW - 3, actor: 'owner', action: 'site.create', site: null, target: 'shop.example.com' },
      ],
      auditBefore: [{ at: NOW - 2, actor: 'user:a@example.com', action: 'funnel.save', site: 'shop.example.com', target: 'f' }],
      // Seen from before the purge, only the session that had not ended is left.
      afterPurge: ['s-live'],
    });
    expect(clickhouse).toEqual(sqlite);
  });
});

describe.skipIf(skipClickHouse)('two collectors on one ClickHouse', () => {
  let a: RunningCollector;
  let b: RunningCollector;
  const PASSWORD = 'correct horse battery';
  const SITE = 'shop.example.com';

  beforeAll(async () => {
    const databaseUrl = both.server.databaseUrlFor('account_collectors');
    a = await startCollector({ databaseUrl });
    b = await startCollector({ databaseUrl });
    expect((await a.admin('/api/sites', { body: { domain: SITE } })).status).toBe(201);
  }, limitFor(60_000));

  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('agree on users and sessions at once: made on one, signed in on the other, changed and ended on either', async () => {
    const created = await a.admin('/api/users', { body: { email: 'shared@example.com', password: PASSWORD, role: 'viewer', sites: [SITE] } });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    const session = await signIn(b.url, 'shared@example.com', PASSWORD);
    expect((await withSession(a.url, session, '/api/me')).status).toBe(200);
    const put = (collector: RunningCollector) => withSession(collector.url, session, `/api/sites/${SITE}/funnels/f`, {
      method: 'PUT', body: { name: 'f', window: '1h', steps: [{ name: 'a', event: 'pageview' }, { name: 'b', event: 'signup' }] },
    });
    expect((await put(a)).status).toBe(403);
    expect((await b.admin(`/api/users/${id}`, { method: 'PATCH', body: { role: 'editor' } })).status).toBe(200);
    expect((await put(a)).status).toBe(201);
    expect((await withSession(a.url, session, '/api/logout', { method: 'POST' })).status).toBe(204);
    expect((await withSession(b.url, session, '/api/me')).status).toBe(401);
    expect((await a.admin('/api/users', { body: { email: 'shared@example.com', password: PASSWORD, role: 'viewer' } })).status).toBe(409);
    expect((await b.admin(`/api/users/${id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await login(a.url, 'shared@example.com', PASSWORD)).status).toBe(401);
  });

  it('agree on keys, shared links and the audit log', async () => {
    const { id, key } = (await (await b.admin('/api/keys', { body: { name: 'crm', scopes: ['reports:read'], sites: [SITE] } })).json()) as { id: string; key: string };
    const asKey = (collector: RunningCollector) => fetch(`${collector.url}/api/sites/${SITE}/funnels`, { headers: { authorization: `Bearer ${key}` } });
    expect((await asKey(a)).status).toBe(200);
    expect((await a.admin(`/api/keys/${id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await asKey(b)).status).toBe(401);

    const share = (await (await a.admin(`/api/sites/${SITE}/shares`, { body: { funnel: 'f', password: 'for the client only' } })).json()) as { id: string; url: string };
    const token = share.url.split('/').pop()!;
    const unlocked = await fetch(`${b.url}/api/share/${token}/unlock`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: 'for the client only' }) });
    expect(unlocked.status).toBe(204);
    const cookie = unlocked.headers.get('set-cookie')!.split(';')[0];
    const today = new Date().toISOString().slice(0, 10);
    expect((await fetch(`${a.url}/api/share/${token}/report?from=${today}&to=${today}`, { headers: { cookie } })).status).toBe(200);
    expect((await b.admin(`/api/sites/${SITE}/shares/${share.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(`${a.url}/api/share/${token}/report?from=${today}&to=${today}`, { headers: { cookie } })).status).toBe(404);

    const actions = async (collector: RunningCollector) =>
      ((await (await collector.admin('/api/audit')).json()) as { entries: { action: string }[] }).entries.map((e) => e.action);
    const seen = await actions(a);
    expect(seen).toEqual(await actions(b));
    for (const action of ['site.create', 'user.create', 'session.login', 'user.update', 'funnel.save', 'user.delete', 'key.create', 'key.delete', 'share.create', 'share.delete']) {
      expect(seen).toContain(action);
    }
  });
});
