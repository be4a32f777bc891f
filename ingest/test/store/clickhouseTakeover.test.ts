// Two collectors on one real ClickHouse, as `npm start` runs them: what one acknowledges shows in
// the other's report (the materializer, whichever holds the lease, has it within seconds); then
// the materializing one is killed with kill -9 under load from both, and the other takes over:
// every acknowledged event is stored, and its reports count what is stored exactly.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { canSkipClickHouse, startClickHouse, type RunningClickHouse } from '../../../test-support/clickhouse.js';
import { exited, killCollectorProcesses, startCollectorProcess, type CollectorProcess } from '../../../test-support/collectorProcess.js';
import { waitFor } from '../../../test-support/webhookReceiver.js';
import { utcDay } from '../../src/time.js';
import { journeyMaker, landedAndSigned } from '../../../test-support/signupJourneys.js';

const SITE = 'takeover.example.com';
const ORIGIN = `https://${SITE}`;
const headers = {
  'content-type': 'text/plain',
  'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
};
const funnel = {
  name: 'Signup',
  window: '1d',
  steps: [{ name: 'Landing', event: 'pageview', path: '/' }, { name: 'Signup', event: 'signup' }],
};
// The collectors shed nothing on event-loop lag: two of them and ClickHouse share two cores here.
const env = { MAX_EVENT_LOOP_DELAY_MS: '0' };

const skipClickHouse = canSkipClickHouse();
let clickhouse: RunningClickHouse | null = null;

beforeAll(async () => {
  if (!skipClickHouse) clickhouse = await startClickHouse();
}, 60_000);
afterAll(async () => { await clickhouse?.stop(); });
afterEach(killCollectorProcesses);

const journey = journeyMaker(SITE);

async function send(collector: CollectorProcess, body: unknown[]): Promise<boolean> {
  try {
    const reply = await fetch(`${collector.url}/api/event`, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(5000) });
    return reply.status === 202;
  } catch {
    return false; // a collector killed mid-request acknowledges nothing
  }
}

/** The visitors stored with a landing and with a signup (requests cut off by the kill may have been stored unacknowledged). */
async function stored(databaseUrl: string): Promise<{ landed: Set<string>; signed: Set<string> }> {
  const { username, password, pathname } = new URL(databaseUrl);
  const query = `SELECT DISTINCT visitor, name FROM events WHERE site = '${SITE}' FORMAT JSONEachRow`;
  const reply = await fetch(`${clickhouse!.url}/?${new URLSearchParams({ user: username, password: decodeURIComponent(password), database: pathname.slice(1) })}`, { method: 'POST', body: query });
  expect(reply.status).toBe(200);
  const rows = (await reply.text()).split('\n').filter(Boolean).map((line) => JSON.parse(line) as { visitor: string; name: string });
  return landedAndSigned(rows);
}

async function report(collector: CollectorProcess): Promise<{ landed: number; signed: number; freshUntil: number | null } | undefined> {
  const day = utcDay(Date.now());
  const reply = await collector.admin(`/api/sites/${SITE}/funnels/signup/report?from=${utcDay(Date.now() - 86_400_000)}&to=${day}`);
  if (reply.status !== 200) return undefined;
  const body = (await reply.json()) as { steps: { entered: number }[]; fresh_until: number | null; backfill?: unknown };
  if (body.backfill) return undefined;
  return { landed: body.steps[0].entered, signed: body.steps[1].entered, freshUntil: body.fresh_until };
}

describe.skipIf(skipClickHouse)('two collectors on one ClickHouse', () => {
  it('report what either took; after kill -9 of the materializing one the other takes over, nothing acknowledged lost', async () => {
    const databaseUrl = clickhouse!.databaseUrlFor('takeover');
    // The first collector alone claims the materializer lease (its progress row says it runs).
    const first = await startCollectorProcess(databaseUrl, env);
    expect((await first.admin('/api/sites', { body: { domain: SITE, origins: [ORIGIN] } })).status).toBe(201);
    expect((await first.admin(`/api/sites/${SITE}/funnels/signup`, { method: 'PUT', body: funnel })).status).toBe(201);
    await waitFor(async () => (await report(first))?.freshUntil != null, 30_000);
    const second = await startCollectorProcess(databaseUrl, env);

    // Taken by the second, counted in the first's report (materialized by the first).
    const acknowledged = { landed: new Set<string>(), signed: new Set<string>() };
    const take = async (collector: CollectorProcess, visitor: string, signs: boolean) => {
      if (!(await send(collector, journey(visitor, signs)))) return false;
      acknowledged.landed.add(visitor);
      if (signs) acknowledged.signed.add(visitor);
      return true;
    };
    expect(await take(second, 'early-1', true)).toBe(true);
    expect(await take(second, 'early-2', false)).toBe(true);
    const sentAt = Date.now();
    const seen = await waitFor(async () => {
      const r = await report(first);
      return r?.landed === 2 && r.signed === 1 ? Date.now() - sentAt : undefined;
    }, 30_000, 100);
    console.log(`an event taken by one collector was in the other's report ${seen} ms later`);

    // Load on both; the first (the materializer) is killed in the middle of it.
    let stop = false;
    let visitors = 0;
    const client = async (n: number) => {
      while (!stop) {
        const signs = visitors % 3 === 0;
        const target = (visitors + n) % 2 === 0 ? first : second;
        await take(target, `v${visitors++}`, signs);
      }
    };
    const load = Promise.all([0, 1, 2, 3].map(client));
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    first.child.kill('SIGKILL');
    await exited(first.child);
    const killedAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    stop = true;
    await load;
    expect(acknowledged.landed.size).toBeGreaterThan(20);
    const kept = await stored(databaseUrl);
    expect([...acknowledged.landed].filter((v) => !kept.landed.has(v))).toEqual([]);
    expect([...acknowledged.signed].filter((v) => !kept.signed.has(v))).toEqual([]);
    const expected = { landed: kept.landed.size, signed: kept.signed.size };

    // The second takes the lease over (it lapses after 10 s) and reports every stored journey.
    const exact = await waitFor(async () => {
      const r = await report(second);
      return r?.landed === expected.landed && r.signed === expected.signed ? r : undefined;
    }, 60_000, 200).catch(async () => { throw new Error(`report ${JSON.stringify(await report(second))}, expected ${JSON.stringify(expected)}`); });
    console.log(`after kill -9 of the materializer, the other collector reported all ${expected.landed} journeys (${acknowledged.landed.size} acknowledged) ${Date.now() - killedAt} ms later`);
    expect(exact.freshUntil).toBeGreaterThanOrEqual(killedAt);
    // A restarted collector (a third process) reports the same from the rows.
    const third = await startCollectorProcess(databaseUrl, env);
    expect(await report(third)).toMatchObject({ landed: expected.landed, signed: expected.signed });
  }, 180_000);
});
