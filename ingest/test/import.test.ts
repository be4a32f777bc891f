// POST /api/sites/:site/import against listening collectors on real SQLite files: an export
// imported into a fresh collector exports the same, bad lines are rejected alone and named,
// hostile bodies never get a 5xx nor write anything, a 200,000-line body streams through in
// flat memory, and imported history reaches funnels (after their back-fill) and leads.
import http from 'node:http';
import { Readable } from 'node:stream';
import { runInNewContext } from 'node:vm';
import v8 from 'node:v8';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import Database from 'better-sqlite3';
import { startCollector, type RunningCollector } from '../../test-support/collector.js';
import { DAY_MS, utcDay } from '../src/time.js';
import { leadId } from '../src/ingestion/enrichEvent.js';
import { ndjsonLines } from '../src/ingestion/importStream.js';

const CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
const SITE = 'shop.example.com';
const NOW = Date.now();
const today = utcDay(NOW);
const daysAgo = (n: number) => utcDay(NOW - n * DAY_MS);

let source: RunningCollector;
let target: RunningCollector;
let db: Database.Database;

function stored(site?: string): number {
  const row = site === undefined
    ? db.prepare('SELECT count(*) AS n FROM events').get()
    : db.prepare('SELECT count(*) AS n FROM events WHERE site = ?').get(site);
  return (row as { n: number }).n;
}

async function importBody(
  collector: RunningCollector, site: string, body: string | Buffer | Readable, contentType: string | null = 'application/x-ndjson',
): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { authorization: `Bearer ${collector.token}` };
  if (contentType !== null) headers['content-type'] = contentType;
  const init: RequestInit & { duplex?: 'half' } = { method: 'POST', headers };
  if (body instanceof Readable) {
    // fetch() pulls an async iterable as it sends (Readable.toWeb on Node 20 reads ahead unbounded).
    init.body = body as unknown as BodyInit;
    init.duplex = 'half';
  } else {
    init.body = typeof body === 'string' ? body : new Uint8Array(body);
  }
  const reply = await fetch(`${collector.url}/api/sites/${site}/import`, init);
  const text = await reply.text();
  return { status: reply.status, body: text === '' ? null : JSON.parse(text) };
}

async function exportText(collector: RunningCollector, site: string, from = daysAgo(400), to = today): Promise<string> {
  const reply = await collector.admin(`/api/sites/${site}/export?from=${from}&to=${to}`);
  expect(reply.status).toBe(200);
  return reply.text();
}

const exported = async (collector: RunningCollector, site: string) =>
  (await exportText(collector, site)).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

async function createSite(collector: RunningCollector, domain: string, extra: Record<string, unknown> = {}) {
  expect((await collector.admin('/api/sites', { body: { domain, ...extra } })).status).toBe(201);
}

/** A line as the export writes it, for `site`. */
function storedLine(site: string, i: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    site, id: `line-${i}`, client_ts: NOW - DAY_MS + i, ts: NOW - DAY_MS + i, name: 'pageview', visitor: `v${i % 7}`,
    session: `s${i % 7}`, lead: null, url: `https://${site}/p/${i}`, path: `/p/${i}`, landing: '/', referrer: null,
    channel: 'Direct', source: null, medium: null, campaign: null, term: null, content: null, browser: 'Chrome',
    os: 'Linux', device: 'desktop', props: null, revenue_amount: null, revenue_currency: null, engaged_ms: null,
    scroll: null, variant: null, ...overrides,
  };
}

const ndjson = (lines: unknown[]) => lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n';

beforeAll(async () => {
  [source, target] = await Promise.all([startCollector(), startCollector()]);
  db = new Database(target.dbFile, { readonly: true });
});

afterAll(async () => {
  db?.close();
  await Promise.all([source?.close(), target?.close()]);
});

describe('an export imported into a fresh collector', () => {
  it('exports the same, field for field, with the same stats; a second import is all duplicates', async () => {
    const params = { allowed_params: ['ref'] };
    await createSite(source, SITE, params);
    await createSite(target, SITE, params);
    const events = [
      { name: 'pageview', url: `https://${SITE}/?utm_source=news&utm_medium=email&ref=x&gclid=1`, visitor: 'a', ts: NOW - 2 * DAY_MS },
      { name: 'pageview', url: `https://${SITE}/deals/spa`, referrer: 'https://www.google.com/search?q=spa+deals', visitor: 'b', ts: NOW - 2 * DAY_MS + 5 },
      { name: 'deal_view', url: `https://${SITE}/deals/spa`, visitor: 'b', props: { deal: 'spa', n: 3, hot: true }, variant: 'B', ts: NOW - 2 * DAY_MS + 10 },
      { name: 'signup', url: `https://${SITE}/signup`, visitor: 'b', lead: 'crm-4711', ts: NOW - DAY_MS },
      { name: 'purchase', url: `https://${SITE}/cart`, visitor: 'b', revenue: { amount: 49.5, currency: 'USD' }, ts: NOW - DAY_MS + 1 },
      { name: 'pageview', url: `https://${SITE}/cart`, engaged_ms: 1234, scroll: 62.5, session: 'client-session', ts: NOW - 3_600_000 },
      { name: 'pageview', url: `https://${SITE}/`, ts: NOW - 1000 },
    ].map((e, i) => ({ site: SITE, id: `rt-${i}`, ...e }));
    const sent = await fetch(`${source.url}/api/event`, {
      method: 'POST', headers: { 'content-type': 'text/plain', 'user-agent': CHROME }, body: JSON.stringify(events),
    });
    expect(sent.status).toBe(202);

    const backup = await exportText(source, SITE);
    expect(backup.trim().split('\n')).toHaveLength(events.length);
    const first = await importBody(target, SITE, backup);
    expect(first).toEqual({ status: 200, body: { imported: events.length, duplicates: 0, rejected: [], rejected_total: 0 } });

    expect(await exportText(target, SITE)).toBe(backup);
    const stats = async (c: RunningCollector) => (await c.admin(`/api/sites/${SITE}/stats?from=${daysAgo(3)}&to=${today}`)).json();
    expect(await stats(target)).toEqual(await stats(source));

    const again = await importBody(target, SITE, backup);
    expect(again).toEqual({ status: 200, body: { imported: 0, duplicates: events.length, rejected: [], rejected_total: 0 } });
    expect(await exportText(target, SITE)).toBe(backup);
  });
});

describe('the line splitter', () => {
  it('gives the same lines however the bytes are cut into chunks', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.string({ unit: 'grapheme', maxLength: 30 }), { maxLength: 8 }), fc.boolean(), fc.array(fc.nat(), { maxLength: 6 }), async (lines, crlf, cuts) => {
        const clean = lines.map((l) => l.replace(/[\r\n]/g, ''));
        const bytes = Buffer.from(clean.join(crlf ? '\r\n' : '\n'));
        const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const chunks = [0, ...at].map((from, i, all) => bytes.subarray(from, all[i + 1] ?? bytes.length));
        const seen: string[] = [];
        for await (const line of ndjsonLines((async function* () { yield* chunks; })(), 20)) {
          seen.push('text' in line ? line.text : `(too long: ${line.number})`);
        }
        // What a line is: the text up to a line break (which ends it, and is not a line of its own).
        const raw = bytes.toString().split('\n');
        if (raw[raw.length - 1] === '') raw.pop();
        const expected = raw.map((l, i) => (Buffer.byteLength(l) > 20 ? `(too long: ${i + 1})` : l.replace(/\r$/, '').replace(i === 0 ? /^\uFEFF/ : /^$/, '')));
        expect(seen).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });
});

describe('lines', () => {
  const site = 'lines.example.com';
  beforeAll(() => createSite(target, site));

  it('are rejected alone, by number and field; good ones are imported, blank ones skipped', async () => {
    const good = (i: number, overrides: Record<string, unknown> = {}) => storedLine(site, i, overrides);
    const props31 = Object.fromEntries(Array.from({ length: 31 }, (_, i) => [`k${i}`, i]));
    const lines: unknown[] = [
      good(1), //                                                                      1
      'not json', //                                                                   2
      good(3, { site: 'other.example.com' }), //                                       3
      '', //                                                                           4 blank
      good(5, { ts: NOW + 3_600_000 }), //                                             5
      (({ name: _, ...rest }) => rest)(good(6)), //                                    6
      good(7, { props: props31 }), //                                                  7
      '[1,2]', //                                                                      8
      JSON.stringify(good(9)) + '\r', //                                               9 CRLF
      good(10, { extra: 'dropped', wd: true }), //                                     10
      good(11, { ts: String(NOW) }), //                                                11
      good(12, { revenue_amount: 5 }), //                                              12
      good(13, { path: '/elsewhere' }), //                                             13
      good(14, { url: 'ftp://files.example.com/x' }), //                               14
      good(15, { name: 'bad/name' }), //                                               15
      good(16, { ts: NOW - DAY_MS + 0.5 }), //                                         16
      good(17, { ts: Math.floor(NOW / 1000) }), //                                     17 seconds
      good(18, { engaged_ms: -1 }), //                                                 18
      good(19, { props: { nested: { a: 1 } } }), //                                    19
      '   \t ', //                                                                     20 blank
      { name: 'pageview', url: `https://${site}/landing?utm_source=newsletter&utm_medium=email`, ts: NOW - 5000, visitor: 'minimal' }, // 21
      { name: 'click', url: `https://${site}/next`, ts: NOW - 4000, visitor: 'minimal', referrer: `https://${site}/landing` }, // 22
    ];
    const before = stored(site);
    const reply = await importBody(target, site, ndjson(lines));
    expect(reply.status).toBe(200);
    expect(reply.body.rejected.map((r: { line: number; field: string }) => [r.line, r.field])).toEqual([
      [2, '(line)'], [3, 'site'], [5, 'ts'], [6, 'name'], [7, 'props'], [8, '(line)'], [11, 'ts'], [12, 'revenue_currency'],
      [13, 'path'], [14, 'url'], [15, 'name'], [16, 'ts'], [17, 'ts'], [18, 'engaged_ms'], [19, 'props.nested'],
    ]);
    for (const r of reply.body.rejected) expect(r.error).toMatch(/\S/);
    expect(reply.body).toMatchObject({ imported: 5, duplicates: 0, rejected_total: 15 });
    expect(stored(site) - before).toBe(5);

    const byId = new Map((await exported(target, site)).map((e) => [e.id ?? e.name, e]));
    expect(byId.get('line-10')).toEqual(storedLine(site, 10)); // unknown fields dropped
    expect(byId.get('line-9')).toEqual(storedLine(site, 9));
    // A line with only the required fields gets the rest as ingestion would have derived it.
    const landing = byId.get('pageview')!;
    const click = byId.get('click')!;
    expect(landing).toMatchObject({
      id: null, client_ts: NOW - 5000, landing: '/landing', channel: 'Email', source: 'newsletter', browser: null, props: null,
      url: `https://${site}/landing?utm_source=newsletter&utm_medium=email`, path: '/landing',
    });
    // The second event of the visit keeps the visit's session, landing page and source.
    expect(click).toMatchObject({ session: landing.session, landing: '/landing', channel: 'Email', source: 'newsletter', referrer: `https://${site}/landing` });
  });

  it('lists at most 100 rejections and counts them all', async () => {
    const lines = Array.from({ length: 155 }, (_, i) => (i % 31 === 0 ? storedLine(site, 1000 + i) : { name: 'pageview' }));
    const reply = await importBody(target, site, ndjson(lines));
    expect(reply.status).toBe(200);
    expect(reply.body.imported).toBe(5);
    expect(reply.body.rejected_total).toBe(150);
    expect(reply.body.rejected).toHaveLength(100);
    expect(reply.body.rejected[0]).toEqual({ line: 2, error: 'url is required', field: 'url' });
    expect(reply.body.rejected[99].line).toBe(104);
  });

  it('may come with a BOM, CRLF line ends and no final line break', async () => {
    const body = '\uFEFF' + [storedLine(site, 2001), storedLine(site, 2002), storedLine(site, 2003)].map((l) => JSON.stringify(l)).join('\r\n');
    expect((await importBody(target, site, body)).body).toMatchObject({ imported: 3, rejected_total: 0 });
    expect((await importBody(target, site, `${body}\r\n\r\n`)).body).toMatchObject({ imported: 0, duplicates: 3, rejected_total: 0 });
  });

  it('over 64 KiB are rejected with their number, unread', async () => {
    const huge = JSON.stringify(storedLine(site, 3001, { props: { blob: 'x'.repeat(200_000) } }));
    const reply = await importBody(target, site, ndjson([storedLine(site, 3000), huge, storedLine(site, 3002)]));
    expect(reply.body).toMatchObject({ imported: 2, rejected_total: 1, rejected: [{ line: 2, field: '(line)' }] });
  });
});

describe('bodies', () => {
  const site = 'hostile.example.com';
  beforeAll(() => createSite(target, site));

  /** Sends a body: never a 5xx, and the events stored moved by exactly what the reply says. */
  async function sendAndCheck(body: string | Buffer, contentType: string | null = 'application/x-ndjson') {
    const before = stored();
    // fetch() labels a string body text/plain: bytes go without a content type.
    const reply = await importBody(target, site, contentType === null ? Buffer.from(body) : body, contentType);
    const what = String(body).slice(0, 80);
    expect(reply.status, what).toBeLessThan(500);
    expect(stored() - before, `${reply.status} ${what}`).toBe(reply.status === 200 ? reply.body.imported : 0);
    if (reply.status !== 200) expect(reply.body).toEqual({ error: expect.any(String), field: '(body)' });
    return reply;
  }

  it('that are not NDJSON get a 400 and write nothing', async () => {
    for (const body of ['', '\n\n  \r\n', 'hello', '{"a":1', '[{"site":"x"}]', '"string"\n42\nnull\ntrue', 'x'.repeat(300_000)]) {
      expect((await sendAndCheck(body)).status, body.slice(0, 40)).toBe(400);
    }
    expect((await sendAndCheck('a'.repeat(100_000) + '\n[]')).body.error).toMatch(/line 1: line is longer than 65536 bytes/);
  });

  it('of another content type get a 415, an unknown site a 404, no token a 401', async () => {
    const body = ndjson([storedLine(site, 1)]);
    expect((await sendAndCheck(body, 'application/json')).status).toBe(415);
    expect((await sendAndCheck(body, 'text/plain')).status).toBe(415);
    expect((await sendAndCheck(body, null)).status).toBe(415);
    expect((await importBody(target, 'nowhere.example.com', body)).status).toBe(404);
    const anonymous = await fetch(`${target.url}/api/sites/${site}/import`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
    expect(anonymous.status).toBe(401);
    expect(stored(site)).toBe(0);
  });

  it('of random bytes and random JSON lines never get a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 400 }), async (text) => { await sendAndCheck(text); }),
      { numRuns: 120 },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(fc.jsonValue(), fc.object()), { maxLength: 6 }), async (values) => {
        await sendAndCheck(ndjson(values.map((v) => JSON.stringify(v) ?? 'null')));
      }),
      { numRuns: 120 },
    );
  });

  it('with fields replaced by random values never get a 5xx', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...Object.keys(storedLine(site, 0))),
        fc.oneof(fc.jsonValue(), fc.string({ unit: 'binary' }), fc.double(), fc.integer(), fc.object()),
        async (field, value) => { await sendAndCheck(ndjson([storedLine(site, 10_000 + n++, { [field]: value })])); },
      ),
      { numRuns: 200 },
    );
  });

  it('takes the fractional client time of an older export, rounded as POST /api/event rounds it: once', async () => {
    const line = storedLine(site, 70_000, { client_ts: NOW - 10_000.4 });
    expect((await importBody(target, site, ndjson([line]))).body).toMatchObject({ imported: 1, duplicates: 0, rejected_total: 0 });
    expect((await importBody(target, site, ndjson([{ ...line, client_ts: NOW - 10_000 }]))).body).toMatchObject({ imported: 0, duplicates: 1 });
  });

  it('with hostile lines reject those lines alone', async () => {
    const good = (i: number) => JSON.stringify(storedLine(site, 20_000 + i));
    const [head, tail] = good(0).split('"os":"Linux"');
    // Invalid UTF-8 is read as U+FFFD, as POST /api/event reads it: this line is a good one.
    const invalidUtf8 = Buffer.concat([Buffer.from(`${head}"os":"Lin`), Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80]), Buffer.from(`ux"${tail}`)]);
    const hostile = [
      '['.repeat(30_000) + ']'.repeat(30_000),
      good(1).replace('{', '{"__proto__":{"polluted":1},'),
      good(2).replace('"props":null', '"props":{"__proto__":{"polluted":1}}'),
      good(3).replace('{', '{"constructor":{"prototype":{"polluted":1}},'),
      good(4).replace('"props":null', '"props":{"constructor":{"prototype":{"polluted":1}}}'),
      `{"props":${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}}`,
      good(5).replace(/"ts":\d+/, '"ts":1e999'),
      good(6).replace(/"client_ts":\d+/, '"client_ts":-1'),
      good(7).replace(/"client_ts":\d+/, '"client_ts":9223372036854775807'),
      good(8).replace('"revenue_amount":null', '"revenue_amount":1e13').replace('"revenue_currency":null', '"revenue_currency":"USD"'),
      good(9).replace('"scroll":null', '"scroll":101'),
      good(10).replace(/"visitor":"[^"]*"/, '"visitor":""'),
      good(11).replace(/"visitor":"[^"]*"/, `"visitor":"${'v'.repeat(129)}"`),
      good(12).replace('"url":"', '"url":"javascript:alert(1)//'),
      good(13).replace('"props":null', '"props":{"":1}'),
      good(14).replace('"revenue_amount":null', '"revenue_amount":"5"').replace('"revenue_currency":null', '"revenue_currency":"usd"'),
    ];
    const body = Buffer.concat([Buffer.from(`${good(100)}\n`), invalidUtf8, Buffer.from(`\n${hostile.join('\n')}\n${good(101)}`)]);
    const reply = await sendAndCheck(body);
    expect(reply.status).toBe(200);
    expect(reply.body.imported).toBe(3);
    expect(reply.body.rejected.map((r: { line: number }) => r.line)).toEqual(hostile.map((_, i) => i + 3));
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
    // Lines that are no JSON object at all (pollution attempts included): not NDJSON.
    expect((await sendAndCheck(ndjson(hostile.slice(0, 5)))).status).toBe(400);
  });

  it('whose commit fails get a 503 saying what was committed before', async () => {
    const store = target.app.store;
    const importEvents = store.importEvents.bind(store);
    let calls = 0;
    store.importEvents = async (events) => {
      if (++calls === 2) throw new Error('disk full');
      return importEvents(events);
    };
    try {
      const reply = await importBody(target, site, ndjson(Array.from({ length: 2500 }, (_, i) => storedLine(site, 50_000 + i))));
      expect(reply).toEqual({ status: 503, body: { error: expect.any(String), field: '(body)', imported: 1000, duplicates: 0 } });
    } finally {
      store.importEvents = importEvents;
    }
  });

  it('cut off by the client keep what was committed, and the collector stays up', async () => {
    const before = stored(site);
    const url = new URL(`${target.url}/api/sites/${site}/import`);
    const request = http.request({
      host: url.hostname, port: url.port, path: url.pathname, method: 'POST',
      headers: { authorization: `Bearer ${target.token}`, 'content-type': 'application/x-ndjson', 'transfer-encoding': 'chunked' },
    });
    request.on('error', () => undefined);
    request.write(ndjson(Array.from({ length: 2500 }, (_, i) => storedLine(site, 30_000 + i))));
    request.write(JSON.stringify(storedLine(site, 40_000)).slice(0, 50));
    const deadline = Date.now() + 10_000;
    while (stored(site) - before < 2000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    request.destroy();
    await new Promise((r) => setTimeout(r, 200));
    expect(stored(site) - before).toBe(2000);
    expect((await fetch(`${target.url}/healthz`)).status).toBe(200);
  });
});

describe('a large import', () => {
  // A collector of its own: earlier tests' recent visits would keep the lead tracker from
  // evicting this import's old anonymous visits (bounded by its own cap, but not the import's doing).
  let fresh: RunningCollector;
  beforeAll(async () => { fresh = await startCollector(); });
  afterAll(() => fresh?.close());

  it('streams 200,000 lines through in flat memory', async () => {
    const site = 'large.example.com';
    await createSite(fresh, site);
    v8.setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const heap = () => { gc(); return process.memoryUsage().heapUsed; };
    const LINES = 200_000;
    const start = NOW - 60 * DAY_MS;
    const samples: number[] = [];
    function* body() {
      for (let i = 0; i < LINES; i += 500) {
        if (i === 20_000 || i === LINES - 500) samples.push(heap());
        let text = '';
        for (let j = i; j < i + 500; j++) {
          text += JSON.stringify(storedLine(site, j, {
            ts: start + j * 10_000, client_ts: start + j * 10_000, visitor: `v${j % 5000}`, session: `s${j % 5000}-${Math.floor(j / 50_000)}`,
            props: { plan: j % 3 === 0 ? 'pro' : 'free', n: j },
          })) + '\n';
        }
        yield text;
      }
    }
    const reply = await importBody(fresh, site, Readable.from(body()));
    expect(reply).toEqual({ status: 200, body: { imported: LINES, duplicates: 0, rejected: [], rejected_total: 0 } });
    // The body is about 100 MB: held in memory, even in part, it would show many times over.
    const [early, late] = samples;
    expect(late - early).toBeLessThan(8 * 2 ** 20);
    const count = (await (await fresh.admin(`/api/sites/${site}/stats?from=${daysAgo(61)}&to=${today}`)).json()) as { events: number };
    expect(count.events).toBe(LINES);
  }, 60_000);
});

describe('imported history', () => {
  const site = 'history.example.com';

  it('reaches funnels once their back-fill is done, and leads', async () => {
    await createSite(target, site);
    const funnel = { name: 'Signup', window: '1d', steps: [{ name: 'Landing', event: 'pageview', path: '/' }, { name: 'Signup', event: 'signup' }] };
    expect((await target.admin(`/api/sites/${site}/funnels/signup`, { method: 'PUT', body: funnel })).status).toBe(201);
    // A recent event first: history 30 days behind it is past the funnels' open horizon.
    expect((await importBody(target, site, ndjson([storedLine(site, 1, { ts: NOW - 60_000, client_ts: NOW - 60_000 })]))).body).toMatchObject({ imported: 1 });
    const old = NOW - 30 * DAY_MS;
    const lines = [];
    for (let v = 0; v < 5; v++) {
      lines.push(storedLine(site, v * 10, { ts: old + v * 60_000, client_ts: old + v * 60_000, visitor: `h${v}`, session: `hs${v}`, url: `https://${site}/`, path: '/' }));
      if (v < 3) lines.push(storedLine(site, v * 10 + 1, { ts: old + v * 60_000 + 30_000, client_ts: old + v * 60_000 + 30_000, visitor: `h${v}`, session: `hs${v}`, name: 'signup', url: `https://${site}/signup`, path: '/signup' }));
    }
    lines.push(storedLine(site, 99, { ts: old, client_ts: old, visitor: 'crm-visitor', session: 'crm-session', name: 'newsletter', lead: 'crm-42' }));
    expect((await importBody(target, site, ndjson(lines))).body).toMatchObject({ imported: lines.length, rejected_total: 0 });

    // The store starts the back-fill up to a second after the import, and until then the report
    // says `backfill: null` without the history: so wait for the history's first step as well.
    const deadline = Date.now() + 20_000;
    let report: any;
    for (;;) {
      const reply = await target.admin(`/api/sites/${site}/funnels/signup/report?from=${daysAgo(32)}&to=${today}`);
      report = reply.status === 200 ? await reply.json() : null;
      if ((report?.backfill === null && report.steps[0].entered > 0) || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(report.backfill).toBeNull();
    expect(report.steps.map((s: { entered: number }) => s.entered)).toEqual([5, 3]);

    const leads = await (await target.admin(`/api/sites/${site}/leads`)).json();
    expect(leads.leads.map((l: { lead: string }) => l.lead)).toEqual(['crm-42']);
  });

  it('keeps no e-mail address in a URL, referrer, property, variant or lead id', async () => {
    const email = 'Jane.Doe@example.org';
    const line = storedLine(site, 500, {
      url: `https://${site}/u/${email}?utm_source=news&email=${encodeURIComponent(email)}&utm_campaign=${email}`,
      path: `/u/${email}`,
      landing: `/u/${email}`,
      referrer: `https://mail.example.net/read/${email}?to=${email}`,
      props: { contact: email, [email]: 'as a key', note: `write to ${email.replace('@', '%40')}` },
      variant: `B/${email}`,
      lead: email,
      term: email,
    });
    expect((await importBody(target, site, ndjson([line]))).body).toMatchObject({ imported: 1 });
    const event = (await exported(target, site)).find((e) => e.id === 'line-500')!;
    expect(event).toMatchObject({
      url: `https://${site}/u/[email]?utm_source=news&utm_campaign=%5Bemail%5D`,
      path: '/u/[email]',
      landing: '/u/[email]',
      referrer: 'https://mail.example.net/read/[email]',
      props: { contact: '[email]', '[email]': 'as a key', note: 'write to [email]' },
      variant: 'B/[email]',
      lead: leadId(email),
      term: '[email]',
    });
    expect(JSON.stringify(event)).not.toMatch(/@|%40|jane/i);
  });
});
