// CRM connectors of a site (CONTRACT.md, "CRM connectors"): set up, shown with secrets masked
// and their last outcome, tested, removed (admins); and the CRMs' own webhooks, which carry no
// credential of ours, so each is checked by the CRM's own means: HubSpot's v3 signature,
// Pipedrive's basic auth. Anything unverified gets a 401 and moves nothing.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { parse as parseJson } from 'secure-json-parse';
import { CRMS, mask, parseHubSpotConfig, parsePipedriveConfig, type Crm, type HubSpotConfig, type PipedriveConfig } from '../crm/config.js';
import { lifecycleChanges, verifyHubSpotSignature } from '../crm/hubspot.js';
import { pipedriveMove } from '../crm/pipedrive.js';
import { moveThrough } from '../crm/inbound.js';
import { SALES_STAGES, type SalesStage } from '../leads/stages.js';
import { digest, secretMatches } from '../accounts/secrets.js';

type SiteParams = { site: string };

declare module 'fastify' {
  interface FastifyRequest {
    /** The body as sent: HubSpot signs these exact bytes. */
    rawBody?: string;
  }
}

function present(crm: Crm, config: HubSpotConfig | PipedriveConfig) {
  return crm === 'hubspot'
    ? { access_token: mask((config as HubSpotConfig).accessToken), client_secret: mask((config as HubSpotConfig).clientSecret), stages: (config as HubSpotConfig).stages }
    : { api_token: mask((config as PipedriveConfig).apiToken), webhook_user: (config as PipedriveConfig).webhookUser, webhook_password: mask((config as PipedriveConfig).webhookPassword) };
}

export const integrationRoutes: FastifyPluginAsync = async (app) => {
  // Bodies are parsed here keeping their raw text (for the signature); still safe from prototype pollution.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: 1_048_576 }, (request, body, done) => {
    request.rawBody = String(body);
    try {
      done(null, body === '' ? null : parseJson(String(body)));
    } catch {
      done(Object.assign(new Error('the body is not valid JSON'), { statusCode: 400 }), undefined);
    }
  });

  app.addHook('preHandler', async (request, reply) => {
    const { site } = request.params as Partial<SiteParams>;
    if (site !== undefined && !(await app.sites.find(site, 0))) return reply.code(404).send({ error: `no site ${site}`, field: 'site' });
  });

  const view = async (site: string, crm: Crm) => {
    const config = (await app.store.getLeadSettings(site))[crm];
    if (!config) return null;
    const status = await app.crm.records.status(crm, site);
    return {
      ...present(crm, config),
      last_delivery: status && { at: new Date(status.at).toISOString(), outcome: status.outcome, error: status.error, paused: status.paused },
    };
  };

  for (const crm of CRMS) {
    const path = `/api/sites/:site/integrations/${crm}`;

    app.get<{ Params: SiteParams }>(path, { config: { access: 'admin' } }, async (request, reply) => {
      const shown = await view(request.params.site, crm);
      if (!shown) return reply.code(404).send({ error: `no ${crm} connector on this site`, field: crm });
      return shown;
    });

    app.put<{ Params: SiteParams; Body: unknown }>(path, { config: { access: 'admin', audit: `integration.${crm}.save` } }, async (request, reply) => {
      const parsed = crm === 'hubspot' ? parseHubSpotConfig(request.body) : parsePipedriveConfig(request.body);
      if (!parsed.ok) return reply.code(400).send({ error: parsed.error, field: parsed.field });
      const { site } = request.params;
      const existed = (await app.store.getLeadSettings(site))[crm] !== null;
      await app.store.putLeadSettings(site, { [crm]: parsed.config });
      // New credentials: whatever was paused on the old ones is tried again.
      await app.crm.records.setStatus(crm, site, null);
      return reply.code(existed ? 200 : 201).send(await view(site, crm));
    });

    app.delete<{ Params: SiteParams }>(path, { config: { access: 'admin', audit: `integration.${crm}.delete` } }, async (request, reply) => {
      const { site } = request.params;
      if ((await app.store.getLeadSettings(site))[crm] === null) return reply.code(404).send({ error: `no ${crm} connector on this site`, field: crm });
      await app.store.putLeadSettings(site, { [crm]: null });
      await app.crm.records.dropEmails(crm, site);
      await app.crm.records.setStatus(crm, site, null);
      return reply.code(204).send();
    });

    app.post<{ Params: SiteParams }>(`${path}/test`, { config: { access: 'admin' } }, async (request, reply) => {
      const { site } = request.params;
      if ((await app.store.getLeadSettings(site))[crm] === null) return reply.code(404).send({ error: `no ${crm} connector on this site`, field: crm });
      await app.crm.test(site, crm);
      return view(site, crm);
    });
  }

  // ---- The CRMs' webhooks

  async function applied(request: FastifyRequest<{ Params: SiteParams }>, crm: Crm, lead: string, stage: SalesStage, at: number, value = {}) {
    const result = await moveThrough(app.store, request.params.site, lead, stage, at, value);
    if (result.ok && result.changed) {
      await app.store.appendAudit({ at: Date.now(), actor: `crm:${crm}`, action: 'lead.stage', site: request.params.site, target: lead });
    }
    return result.ok;
  }

  const unverified = (reply: FastifyReply, error: string) => reply.code(401).send({ error, field: 'authorization' });

  app.post<{ Params: SiteParams; Body: unknown }>('/api/sites/:site/integrations/hubspot/events', { config: { access: 'signed-by-crm' } }, async (request, reply) => {
    const { site } = request.params;
    const config = (await app.store.getLeadSettings(site)).hubspot;
    if (!config) return unverified(reply, 'this site has no HubSpot connector');
    const header = (name: string) => [request.headers[name]].flat()[0];
    const verified = verifyHubSpotSignature(config.clientSecret, {
      method: request.method, uri: `${request.protocol}://${request.host}${request.url}`, body: request.rawBody ?? '',
      signature: header('x-hubspot-signature-v3'), timestamp: header('x-hubspot-request-timestamp'),
    });
    if (!verified.ok) return unverified(reply, verified.error);
    const changes = lifecycleChanges(request.body);
    if (changes === null) return reply.code(400).send({ error: 'a HubSpot webhook body is an array of events', field: '(body)' });
    const ours = new Map(Object.entries(config.stages).map(([stage, value]) => [value, stage]));
    let moved = 0;
    for (const change of changes) {
      const stage = ours.get(change.value);
      const lead = await app.crm.records.leadOf('hubspot', site, change.contactId);
      if (!lead || !stage || !(SALES_STAGES as readonly string[]).includes(stage)) continue;
      if (await app.crm.records.seen('hubspot', site, change.eventId)) continue;
      if (await applied(request, 'hubspot', lead, stage as SalesStage, change.at)) moved++;
      await app.crm.records.markSeen('hubspot', site, change.eventId);
    }
    return { moved };
  });

  app.post<{ Params: SiteParams; Body: unknown }>('/api/sites/:site/integrations/pipedrive/events', { config: { access: 'signed-by-crm' } }, async (request, reply) => {
    const { site } = request.params;
    const config = (await app.store.getLeadSettings(site)).pipedrive;
    if (!config) return unverified(reply, 'this site has no Pipedrive connector');
    const header = request.headers.authorization ?? '';
    const presented = header.startsWith('Basic ') ? Buffer.from(header.slice(6), 'base64').toString('utf8') : '';
    if (!secretMatches(presented, `${config.webhookUser}:${config.webhookPassword}`)) {
      reply.header('www-authenticate', 'Basic realm="funnelbeam"');
      return unverified(reply, 'wrong or missing basic auth');
    }
    const move = pipedriveMove(request.body);
    if (!move) return { moved: 0 };
    const lead = await app.crm.records.leadOf('pipedrive', site, move.by === 'person' ? move.personId : move.leadId);
    // A replay is the same body again: its digest is its id.
    const eventId = digest(request.rawBody ?? '');
    if (!lead || (await app.crm.records.seen('pipedrive', site, eventId))) return { moved: 0 };
    const value = move.by === 'person' && move.amount !== undefined ? { amount: move.amount, currency: move.currency } : {};
    const moved = await applied(request, 'pipedrive', lead, move.stage, Date.now(), value);
    await app.crm.records.markSeen('pipedrive', site, eventId);
    return { moved: moved ? 1 : 0 };
  });
};
