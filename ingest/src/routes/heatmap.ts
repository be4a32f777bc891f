// Heatmaps (CONTRACT.md, "Heatmaps"): a page's clicks per element and its scroll reach, split by
// funnel outcome on request; the overlay's signed read-only link; the capture and overlay files.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { HEATMAP_DEVICES, type Heatmap, type HeatmapDevice, type HeatmapPerson } from '../heatmaps/capture.js';
import { OVERLAY_TOKEN_TTL_MS, signOverlayToken, verifyOverlayToken, type OverlayGrant } from '../heatmaps/overlayToken.js';
import type { PeopleStatus } from '../funnel/people.js';
import type { HeatmapQuery, TimeRange } from '../store/types.js';
import { FunnelsWarmingUp } from '../store/funnelRuntime.js';
import { buildHeatmapCapture, buildOverlay } from '../../../snippet/build.js';
import { builtAsset, serveBuiltAsset } from './builtAsset.js';
import { dateRangeQuery, parseDateRange } from './stats.js';

const SPLIT_STATUSES = ['went_on', 'dropped'] as const;
type SplitStatus = (typeof SPLIT_STATUSES)[number];

/** Most entries a funnel split reads; past it the split counts the first ones (in entry order). */
const MAX_SPLIT_PEOPLE = 100_000;
const PEOPLE_PAGE = 5_000;

const heatmapFilter = {
  path: { type: 'string', minLength: 1, maxLength: 2048, pattern: '^/' },
  device: { type: 'string', enum: [...HEATMAP_DEVICES] },
  funnel: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
  step: { type: 'integer', minimum: 1, maximum: 20 },
  status: { type: 'string', enum: [...SPLIT_STATUSES] },
} as const;

const heatmapQuery = {
  ...dateRangeQuery,
  required: [...dateRangeQuery.required, 'path'],
  additionalProperties: false,
  properties: { ...dateRangeQuery.properties, ...heatmapFilter },
} as const;

interface HeatmapParams {
  from: string;
  to: string;
  path: string;
  device?: HeatmapDevice;
  funnel?: string;
  step?: number;
  status?: SplitStatus;
}

const heatmapResponse = {
  type: 'object',
  properties: {
    pageviews: { type: 'integer' },
    clicks: {
      type: 'array',
      items: {
        type: 'object',
        properties: { selector: { type: 'string' }, x: { type: 'number' }, y: { type: 'number' }, count: { type: 'integer' }, rage: { type: 'integer' } },
      },
    },
    scroll: { type: 'array', items: { type: 'object', properties: { depth: { type: 'integer' }, visitors: { type: 'integer' } } } },
  },
} as const;

type Answer = { status: number; body: Heatmap | { error: string; field: string | null; warming?: { done: number } } };

/**
 * The people of a funnel split: `went_on` reached step K+1, `dropped` reached K and not K+1
 * (so far: in flight or closed, as the report's `exited`). Each counts with its pageviews from
 * the event that opened its entry to the end of its window (or its last event, if later).
 */
async function splitPeople(app: FastifyInstance, site: string, funnel: string, range: TimeRange, step: number, status: SplitStatus): Promise<HeatmapPerson[] | Answer> {
  const stored = (await app.store.listFunnels(site)).find((f) => f.id === funnel);
  if (!stored) return { status: 404, body: { error: `no funnel ${funnel}`, field: 'funnel' } };
  const stepCount = stored.definition.steps.length;
  if (step >= stepCount) return { status: 400, body: { error: `step must be below the funnel's last step (${stepCount})`, field: 'step' } };
  const statuses: { step: number; status: PeopleStatus }[] = status === 'went_on'
    ? [{ step: step + 1, status: 'reached' }]
    : [{ step, status: 'dropped' }, { step, status: 'in_flight' }];
  const people: HeatmapPerson[] = [];
  const now = Date.now();
  for (const filter of statuses) {
    let after = null;
    for (;;) {
      const page = await app.store.funnelPeople(site, funnel, range, { ...filter, stepCount, now, limit: PEOPLE_PAGE, after });
      if (!page) return { status: 404, body: { error: `no funnel ${funnel}`, field: 'funnel' } };
      for (const row of page.rows) people.push({ visitor: row.visitor, lead: row.lead, fromMs: row.opensAt, toMs: Math.max(row.openUntil, row.lastSeen + 1) });
      const last = page.rows.at(-1);
      if (!page.more || !last || people.length >= MAX_SPLIT_PEOPLE) break;
      after = { start: last.start, unit: last.unit, opensAt: last.opensAt };
    }
  }
  return people;
}

/** The heatmap a query (or an overlay grant) asks for, or why there is none. */
async function answerHeatmap(app: FastifyInstance, site: string, params: HeatmapParams): Promise<Answer> {
  const range = parseDateRange(params);
  if ('error' in range) return { status: 400, body: range };
  const query: HeatmapQuery = { path: params.path, device: params.device ?? null, range };
  const split = params.funnel !== undefined || params.step !== undefined || params.status !== undefined;
  if (!split) return { status: 200, body: await app.store.heatmap(site, query) };
  for (const field of ['funnel', 'step', 'status'] as const) {
    if (params[field] === undefined) return { status: 400, body: { error: `${field} is needed with funnel, step and status`, field } };
  }
  try {
    const people = await splitPeople(app, site, params.funnel!, range, params.step!, params.status!);
    if (!Array.isArray(people)) return people;
    return { status: 200, body: await app.store.heatmapOfPeople(site, query, people) };
  } catch (error) {
    if (!(error instanceof FunnelsWarmingUp)) throw error;
    return { status: 503, body: { error: error.message, field: null, warming: { done: error.done } } };
  }
}

export const heatmapRoutes: FastifyPluginAsync = async (app) => {
  let secret: Promise<string> | null = null;
  const overlaySecret = () => (secret ??= app.store.setSettingOnce('heatmap_overlay_secret', randomBytes(32).toString('base64url')));

  app.get<{ Params: { site: string }; Querystring: HeatmapParams }>('/api/sites/:site/heatmap', {
    config: { access: 'reports:read' },
    schema: { querystring: heatmapQuery, response: { 200: heatmapResponse } },
  }, async (request, reply) => {
    if (!(await app.sites.find(request.params.site, 0))) return reply.code(404).send({ error: 'no such site', field: 'site' });
    const answer = await answerHeatmap(app, request.params.site, request.query);
    if (answer.status === 503) reply.header('retry-after', '2');
    return reply.code(answer.status).send(answer.body);
  });

  // The overlay's link: a token good for one heatmap query and half an hour, and the live page
  // to open it on (the site's first origin, the pattern's most viewed page).
  app.post<{ Params: { site: string }; Body: HeatmapParams }>('/api/sites/:site/heatmap/overlay', {
    config: { access: 'reports:read' },
    schema: { body: { ...heatmapQuery, type: 'object' } },
  }, async (request, reply) => {
    const site = await app.sites.find(request.params.site, 0);
    if (!site) return reply.code(404).send({ error: 'no such site', field: 'site' });
    const range = parseDateRange(request.body);
    if ('error' in range) return reply.code(400).send(range);
    const { path, device, funnel, step, status, from, to } = request.body;
    const grant: OverlayGrant = {
      site: site.domain, path, from, to, device: device ?? null, funnel: funnel ?? null, step: step ?? null, status: status ?? null,
      expires: Date.now() + OVERLAY_TOKEN_TTL_MS,
    };
    const token = signOverlayToken(await overlaySecret(), grant);
    const page = path.includes('*') ? (await app.store.heatmap(site.domain, { path, device: device ?? null, range })).topPath : path;
    const origin = site.origins[0] ?? `https://${site.domain}`;
    return {
      token,
      expires_at: new Date(grant.expires).toISOString(),
      url: page ? `${origin}${page}#fb-heatmap=${encodeURIComponent(token)}` : null,
    };
  });

  // What the overlay reads from the live page, cross-origin: the token is the credential (no
  // cookie is sent or read), so any origin may ask.
  app.get<{ Querystring: { token: string } }>('/api/heatmap-overlay', {
    config: { access: 'shared-link' },
    schema: { querystring: { type: 'object', required: ['token'], properties: { token: { type: 'string', minLength: 1, maxLength: 4096 } } } },
  }, async (request, reply) => {
    reply.header('access-control-allow-origin', '*').header('cache-control', 'no-store');
    const grant = verifyOverlayToken(await overlaySecret(), request.query.token, Date.now());
    if (!grant) return reply.code(401).send({ error: 'this overlay link is not valid (any more): open it again from the dashboard', field: 'token' });
    const answer = await answerHeatmap(app, grant.site, {
      path: grant.path, from: grant.from, to: grant.to,
      ...(grant.device && { device: grant.device }),
      ...(grant.funnel !== null && grant.step !== null && grant.status !== null && { funnel: grant.funnel, step: grant.step, status: grant.status }),
    });
    if (answer.status !== 200 || !('pageviews' in answer.body)) return reply.code(answer.status).send(answer.body);
    const { topPath: _, ...heatmap } = answer.body;
    return { ...heatmap, path: grant.path, device: grant.device };
  });
};

const JS = 'application/javascript; charset=utf-8';
let built: ReturnType<typeof buildAssets> | null = null;
async function buildAssets() {
  const [capture, overlay] = await Promise.all([buildHeatmapCapture(), buildOverlay()]);
  return { capture: builtAsset(capture.js, JS), overlay: builtAsset(overlay.js, JS) };
}

/**
 * The capture file (/f-heatmaps.js, loaded by /f.js on pages with data-heatmaps) and the overlay
 * (/f-overlay.js, loaded by the capture file on an overlay link). Both are imported as modules,
 * cross-origin, so they are sent with CORS.
 */
export const heatmapAssetRoutes: FastifyPluginAsync = async (app) => {
  const { capture, overlay } = await (built ??= buildAssets());
  const headers = { 'cache-control': 'public, max-age=3600', 'access-control-allow-origin': '*' };
  app.get('/f-heatmaps.js', { config: { access: 'public' } }, serveBuiltAsset(capture, headers));
  app.get('/f-overlay.js', { config: { access: 'public' } }, serveBuiltAsset(overlay, headers));
};
