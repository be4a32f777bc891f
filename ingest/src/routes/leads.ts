// Leads of a site: scoring rules, the outgoing webhook, the sales side's stage moves, the lead
// list, a lead's timeline and the sales funnel report.
import { randomBytes } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { StoredEvent } from '../event.js';
import type { LeadRecord, StageChange, StageMove } from '../leads/lead.js';
import { SALES_BREAKDOWNS, salesFunnelReport, type SalesBreakdown } from '../leads/report.js';
import { decayTo, parseScoringRules, roundScore, type ParsedScoringRules } from '../leads/scoring.js';
import { isClosed, SALES_STAGES, STAGES, type LeadStage, type SalesStage } from '../leads/stages.js';
import { checkWebhookUrl, DEFAULT_WEBHOOK_OPTIONS, resolveWebhookHost } from '../leads/webhook.js';
import { dateRangeQuery, parseDateRange } from './stats.js';

type SiteParams = { site: string };
type LeadParams = SiteParams & { lead: string };

const MAX_LIMIT = 500;
const TIMELINE_EVENTS = 1000;
const LEAD_SORTS = ['last_seen', 'score', 'created'] as const;

const iso = (ms: number) => new Date(ms).toISOString();

function refuse(reply: FastifyReply, code: number, error: string, field: string, extra: object = {}) {
  return reply.code(code).send({ error, field, ...extra });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A lead as the API shows it; the score is the one at `now` (decayed). */
/** The lead's score now, decayed as the site's rules say. */
const scoreAt = (record: LeadRecord, rules: ParsedScoringRules | null, now: number) => roundScore(decayTo(record.score, now, rules?.halfLifeMs ?? null).value);

function presentLead(record: LeadRecord, rules: ParsedScoringRules | null, now: number) {
  const won = record.changes.find((c) => c.stage === 'won');
  return {
    lead: record.lead,
    stage: record.stage,
    stage_at: iso(record.stageAt),
    /** How long the lead has been waiting in its (open) stage. */
    waiting_ms: isClosed(record.stage) ? null : Math.max(0, now - record.stageAt),
    score: scoreAt(record, rules, now),
    created_at: iso(record.createdAt),
    first_seen: iso(record.firstSeen),
    last_seen: iso(record.lastSeen),
    source: record.entry,
    won: won ? { amount: won.amount, currency: won.currency } : null,
  };
}

function presentChange(change: StageChange) {
  return {
    stage: change.stage, from: change.from, at: iso(change.at), by: change.by,
    ...(change.amount !== null ? { amount: change.amount, currency: change.currency } : {}),
  };
}

function presentEvent(event: StoredEvent) {
  return {
    type: 'event' as const,
    at: iso(event.ts),
    name: event.name,
    path: event.path,
    props: event.props,
    session: event.session,
    channel: event.channel,
    source: event.source,
    campaign: event.campaign,
    term: event.term,
    ...(event.revenue_amount !== null ? { revenue: { amount: event.revenue_amount, currency: event.revenue_currency } } : {}),
  };
}

/** The body of a stage move, checked by hand so that the error names the field and nothing is coerced. */
function parseStageMove(body: unknown, at: number): StageMove | { error: string; field: string } {
  if (!isRecord(body)) return { error: 'body must be { "stage": "sal" | "sql" | "won" | "lost", "amount"?, "currency"? }', field: '(body)' };
  const unknown = Object.keys(body).find((k) => !['stage', 'amount', 'currency'].includes(k));
  if (unknown !== undefined) return { error: `unknown field "${unknown}"`, field: unknown };
  const { stage, amount, currency } = body;
  if (typeof stage !== 'string' || !(SALES_STAGES as readonly string[]).includes(stage)) {
    return { error: `stage must be one of ${SALES_STAGES.join(', ')} (mql is set by scoring)`, field: 'stage' };
  }
  if (stage !== 'won' && (amount !== undefined || currency !== undefined)) {
    return { error: 'amount and currency go with stage "won" only', field: amount !== undefined ? 'amount' : 'currency' };
  }
  // A deal's value is optional (unknown to some CRMs), but an amount always has its currency.
  if (stage === 'won' && (amount !== undefined || currency !== undefined)) {
    if (typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0 || amount > 1e12) {
      return { error: 'amount must be a number from 0 to 1e12, given with its currency', field: 'amount' };
    }
    if (typeof currency !== 'string' || !/^[A-Z]{3}$/.test(currency)) return { error: 'currency must be an ISO 4217 code such as "USD"', field: 'currency' };
    return { stage, at, amount, currency };
  }
  return { stage: stage as SalesStage, at };
}

export const leadRoutes: FastifyPluginAsync = async (app) => {
  const webhookOptions = { ...DEFAULT_WEBHOOK_OPTIONS, ...app.config.webhooks };

  app.addHook('preHandler', async (request, reply) => {
    const { site } = request.params as Partial<SiteParams>;
    if (site !== undefined && !(await app.sites.find(site, 0))) return refuse(reply, 404, `no site ${site}`, 'site');
  });

  const rulesOf = async (site: string) => {
    const { scoring } = await app.store.getLeadSettings(site);
    if (!scoring) return null;
    const parsed = parseScoringRules(scoring);
    return parsed.ok ? parsed.rules : null;
  };

  // ---- Scoring rules
  app.get<{ Params: SiteParams }>('/api/sites/:site/scoring', { config: { access: 'reports:read' } }, async (request, reply) => {
    const { scoring } = await app.store.getLeadSettings(request.params.site);
    if (!scoring) return refuse(reply, 404, 'no scoring rules set for this site', 'site');
    return scoring;
  });

  app.put<{ Params: SiteParams; Body: unknown }>('/api/sites/:site/scoring', { config: { access: 'funnels:write', audit: 'scoring.save' } }, async (request, reply) => {
    const parsed = parseScoringRules(request.body);
    if (!parsed.ok) return refuse(reply, 400, parsed.error, parsed.field);
    await app.store.putLeadSettings(request.params.site, { scoring: parsed.rules.definition });
    return parsed.rules.definition;
  });

  app.delete<{ Params: SiteParams }>('/api/sites/:site/scoring', { config: { access: 'funnels:write', audit: 'scoring.delete' } }, async (request, reply) => {
    const { scoring } = await app.store.getLeadSettings(request.params.site);
    if (!scoring) return refuse(reply, 404, 'no scoring rules set for this site', 'site');
    await app.store.putLeadSettings(request.params.site, { scoring: null });
    return reply.code(204).send();
  });

  // ---- Webhook: the secret is shown when set, never read back.
  app.get<{ Params: SiteParams }>('/api/sites/:site/webhook', { config: { access: 'admin' } }, async (request, reply) => {
    const { webhook } = await app.store.getLeadSettings(request.params.site);
    if (!webhook) return refuse(reply, 404, 'no webhook set for this site', 'site');
    return { url: webhook.url, secret_set: true };
  });

  app.put<{ Params: SiteParams; Body: unknown }>('/api/sites/:site/webhook', { config: { access: 'admin', audit: 'webhook.save' } }, async (request, reply) => {
    const body = request.body;
    if (!isRecord(body)) return refuse(reply, 400, 'body must be { "url": "https://…", "secret"?: string }', '(body)');
    const unknown = Object.keys(body).find((k) => k !== 'url' && k !== 'secret');
    if (unknown !== undefined) return refuse(reply, 400, `unknown field "${unknown}"`, unknown);
    if (typeof body.url !== 'string' || body.url.length > 2048) return refuse(reply, 400, 'url must be a string of at most 2048 characters', 'url');
    const checked = checkWebhookUrl(body.url, webhookOptions.allowPrivateAddresses);
    if (!checked.ok) return refuse(reply, 400, checked.error, 'url');
    const unresolved = await resolveWebhookHost(checked.url, webhookOptions.allowPrivateAddresses);
    if (unresolved) return refuse(reply, 400, unresolved, 'url');
    if (body.secret !== undefined && (typeof body.secret !== 'string' || body.secret.length < 16 || body.secret.length > 256)) {
      return refuse(reply, 400, 'secret must be a string of 16 to 256 characters (omit it to have one made)', 'secret');
    }
    const secret = (body.secret as string | undefined) ?? randomBytes(32).toString('base64url');
    await app.store.putLeadSettings(request.params.site, { webhook: { url: checked.url.href, secret } });
    return { url: checked.url.href, secret };
  });

  app.delete<{ Params: SiteParams }>('/api/sites/:site/webhook', { config: { access: 'admin', audit: 'webhook.delete' } }, async (request, reply) => {
    const { webhook } = await app.store.getLeadSettings(request.params.site);
    if (!webhook) return refuse(reply, 404, 'no webhook set for this site', 'site');
    await app.store.putLeadSettings(request.params.site, { webhook: null });
    return reply.code(204).send();
  });

  // ---- The sales side (CONTRACT.md): SAL, SQL, won, lost.
  app.post<{ Params: LeadParams; Body: unknown }>('/api/sites/:site/leads/:lead/stage', { config: { access: 'leads:write', audit: 'lead.stage' } }, async (request, reply) => {
    const move = parseStageMove(request.body, Date.now());
    if ('error' in move) return refuse(reply, 400, move.error, move.field);
    const { site, lead } = request.params;
    const result = await app.store.moveLeadStage(site, lead, move);
    if (!result.ok && result.reason === 'unknown') return refuse(reply, 404, `no lead ${lead}`, 'lead');
    if (!result.ok) return refuse(reply, 409, result.error, 'stage', { stage: result.stage });
    return {
      ...presentLead(result.record, await rulesOf(site), Date.now()),
      changed: result.changed,
      stages: result.record.changes.map(presentChange),
    };
  });

  // ---- Lead list and a lead's timeline
  app.get<{ Params: SiteParams; Querystring: { stage?: LeadStage; limit: number; offset: number; sort: (typeof LEAD_SORTS)[number] } }>(
    '/api/sites/:site/leads', {
      config: { access: 'reports:read' },
      schema: {
        querystring: {
          type: 'object',
          properties: {
            stage: { type: 'string', enum: [...STAGES] },
            limit: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: 50 },
            offset: { type: 'integer', minimum: 0, default: 0 },
            sort: { type: 'string', enum: [...LEAD_SORTS], default: 'last_seen' },
          },
        },
      },
    }, async (request) => {
      const { site } = request.params;
      const { stage, limit, offset, sort } = request.query;
      const now = Date.now();
      const rules = await rulesOf(site);
      // Sorted by numbers and presented a page at a time: a site may have hundreds of thousands of leads.
      const sortKey = {
        last_seen: (l: LeadRecord) => l.lastSeen,
        score: (l: LeadRecord) => scoreAt(l, rules, now),
        created: (l: LeadRecord) => l.createdAt,
      }[sort];
      const leads = (await app.store.leads(site))
        .filter((l) => stage === undefined || l.stage === stage)
        .map((l) => ({ record: l, key: sortKey(l) }));
      leads.sort((a, b) => b.key - a.key || a.record.lead.localeCompare(b.record.lead));
      const page = leads.slice(offset, offset + limit).map(({ record }) => presentLead(record, rules, now));
      return { total: leads.length, limit, offset, leads: page };
    });

  app.get<{ Params: LeadParams }>('/api/sites/:site/leads/:lead', { config: { access: 'reports:read' } }, async (request, reply) => {
    const { site, lead } = request.params;
    const record = (await app.store.leads(site)).find((l) => l.lead === lead);
    if (!record) return refuse(reply, 404, `no lead ${lead}`, 'lead');
    const events = (await app.store.leadEvents(site, lead, TIMELINE_EVENTS)).map(presentEvent);
    const stages = record.changes.map((c) => ({ type: 'stage' as const, ...presentChange(c) }));
    // Stable: at the same moment an event comes before the stage change it caused.
    const timeline = [...events, ...stages].sort((a, b) => a.at.localeCompare(b.at));
    return { ...presentLead(record, await rulesOf(site), Date.now()), stages: stages.map(({ type: _, ...s }) => s), timeline };
  });

  // ---- The sales funnel report
  app.get<{ Params: SiteParams; Querystring: { from: string; to: string; breakdown?: SalesBreakdown } }>('/api/sites/:site/sales-funnel', {
    config: { access: 'reports:read' },
    schema: {
      querystring: {
        ...dateRangeQuery,
        properties: { ...dateRangeQuery.properties, breakdown: { type: 'string', enum: [...SALES_BREAKDOWNS] } },
      },
    },
  }, async (request, reply) => {
    const range = parseDateRange(request.query);
    if ('error' in range) return reply.code(400).send(range);
    return salesFunnelReport(await app.store.leads(request.params.site), {
      ...range, now: Date.now(), breakdown: request.query.breakdown,
    });
  });
};
