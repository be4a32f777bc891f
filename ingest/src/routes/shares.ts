// Shared links: a read-only page of one funnel's report at /share/<token>, optionally behind a
// password, revocable; it shows nothing else. Managed by admins; read by whoever has the link.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { SHARE_UNLOCK_TTL_MS, type Share } from '../accounts/accounts.js';
import { MIN_PASSWORD_LENGTH } from '../accounts/passwords.js';
import { answerFunnelReport, reportQuery, type ReportQuery } from './funnels.js';
import { cookieOptions, throttled } from './session.js';

/** The unlock cookie is scoped to its link's own path, so each link is unlocked on its own. */
const UNLOCK_COOKIE = 'fb_share';
const sharePath = (token: string) => `/api/share/${token}`;

const shareReply = {
  type: 'object',
  properties: {
    id: { type: 'string' }, funnel: { type: 'string' }, has_password: { type: 'boolean' },
    created_at: { type: 'string' }, url: { type: 'string' },
  },
} as const;

function present(share: Share) {
  return { id: share.id, funnel: share.funnel, has_password: share.passwordHash !== null, created_at: new Date(share.createdAt).toISOString() };
}

type TokenParams = { token: string };

export const shareRoutes: FastifyPluginAsync = async (app) => {
  // ---- Management (admins)

  app.get<{ Params: { site: string } }>('/api/sites/:site/shares', {
    config: { access: 'admin' }, schema: { response: { 200: { type: 'array', items: shareReply } } },
  }, async (request) => (await app.accounts.listShares(request.params.site)).map(present));

  app.post<{ Params: { site: string }; Body: { funnel: string; password?: string } }>('/api/sites/:site/shares', {
    config: { access: 'admin', audit: 'share.create' },
    schema: {
      body: {
        type: 'object', additionalProperties: false, required: ['funnel'],
        properties: { funnel: { type: 'string', minLength: 1, maxLength: 64 }, password: { type: 'string', minLength: MIN_PASSWORD_LENGTH, maxLength: 1024 } },
      },
      response: { 201: shareReply },
    },
  }, async (request, reply) => {
    const { site } = request.params;
    if (!(await app.store.listFunnels(site)).some((f) => f.id === request.body.funnel)) {
      return reply.code(404).send({ error: `no funnel ${request.body.funnel} on ${site}`, field: 'funnel' });
    }
    const { share, token } = await app.accounts.createShare(site, request.body.funnel, request.body.password ?? null);
    request.auditTarget = share.funnel;
    return reply.code(201).send({ ...present(share), url: `/share/${token}` });
  });

  app.delete<{ Params: { site: string; id: string } }>('/api/sites/:site/shares/:id', {
    config: { access: 'admin', audit: 'share.delete' },
  }, async (request, reply) => {
    if (!(await app.accounts.deleteShare(request.params.site, request.params.id))) {
      return reply.code(404).send({ error: `no shared link ${request.params.id}`, field: 'id' });
    }
    return reply.code(204).send();
  });

  // ---- The link itself: its token is the credential, and reaches one funnel's report only.

  async function shareOf(request: FastifyRequest<{ Params: TokenParams }>, reply: FastifyReply): Promise<Share | null> {
    const share = await app.accounts.findShare(request.params.token);
    if (!share) reply.code(404).send({ error: 'this shared link does not exist (any more)', field: 'token' });
    return share;
  }

  app.get<{ Params: TokenParams }>('/api/share/:token', { config: { access: 'shared-link' } }, async (request, reply) => {
    const share = await shareOf(request, reply);
    if (!share) return reply;
    const funnel = (await app.store.listFunnels(share.site)).find((f) => f.id === share.funnel);
    if (!funnel) return reply.code(404).send({ error: 'the shared funnel was deleted', field: 'token' });
    return {
      site: share.site,
      funnel: { id: funnel.id, ...funnel.definition },
      password_required: share.passwordHash !== null,
      unlocked: await app.accounts.shareOpen(share, request.cookies[UNLOCK_COOKIE]),
    };
  });

  app.post<{ Params: TokenParams; Body: { password: string } }>('/api/share/:token/unlock', {
    config: { access: 'shared-link' },
    schema: { body: { type: 'object', additionalProperties: false, required: ['password'], properties: { password: { type: 'string', minLength: 1, maxLength: 1024 } } } },
  }, async (request, reply) => {
    const share = await shareOf(request, reply);
    if (!share) return reply;
    if (share.passwordHash === null) return reply.code(204).send();
    const attempt = await app.loginThrottle.attempt(`share:${share.id}`, request.ip, () => app.accounts.unlockShare(share, request.body.password));
    if ('wait' in attempt) return throttled(reply, attempt.wait);
    const unlock = attempt.result;
    if (!unlock) return reply.code(401).send({ error: 'wrong password', field: 'password' });
    return reply.setCookie(UNLOCK_COOKIE, unlock, cookieOptions(request, sharePath(request.params.token), SHARE_UNLOCK_TTL_MS)).code(204).send();
  });

  app.get<{ Params: TokenParams; Querystring: ReportQuery }>('/api/share/:token/report', {
    config: { access: 'shared-link' }, schema: { querystring: reportQuery },
  }, async (request, reply) => {
    const share = await shareOf(request, reply);
    if (!share) return reply;
    if (!(await app.accounts.shareOpen(share, request.cookies[UNLOCK_COOKIE]))) {
      return reply.code(401).send({ error: 'this shared link needs its password', field: 'password' });
    }
    return answerFunnelReport(app, share.site, share.funnel, request.query, reply);
  });
};
