// Signing in and out with e-mail and password: an HttpOnly session cookie, refused from other
// origins for changes (access.ts), failed attempts throttled per account and address.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { normalizeEmail, SESSION_TTL_MS } from '../accounts/accounts.js';
import { permissionsOf, sitesOf } from '../accounts/permissions.js';
import { fromOwnOrigin, SESSION_COOKIE } from './access.js';

const loginBody = {
  type: 'object',
  additionalProperties: false,
  required: ['email', 'password'],
  properties: { email: { type: 'string', minLength: 1, maxLength: 320 }, password: { type: 'string', minLength: 1, maxLength: 1024 } },
} as const;

/** Cookie attributes: HttpOnly, SameSite, and Secure whenever the browser came over HTTPS. */
export function cookieOptions(request: FastifyRequest, path: string, maxAgeMs: number) {
  return { path, httpOnly: true, sameSite: 'strict' as const, secure: request.protocol === 'https', maxAge: Math.floor(maxAgeMs / 1000) };
}

export function throttled(reply: FastifyReply, seconds: number) {
  return reply.code(429).header('retry-after', String(seconds))
    .send({ error: `too many failed attempts: try again in ${seconds} s`, field: 'password' });
}

export const sessionRoutes: FastifyPluginAsync = async (app) => {
  app.post<{ Body: { email: string; password: string } }>('/api/login', {
    schema: { body: loginBody },
    config: { access: 'public', audit: 'session.login' },
  }, async (request, reply) => {
    // Signing a victim's browser into the attacker's account is a forgery too.
    if (request.headers.origin && !fromOwnOrigin(request)) return reply.code(403).send({ error: 'sign in from the dashboard’s own origin', field: 'origin' });
    const account = normalizeEmail(request.body.email);
    const attempt = await app.loginThrottle.attempt(account, request.ip, () => app.accounts.checkPassword(account, request.body.password));
    if ('wait' in attempt) return throttled(reply, attempt.wait);
    const user = attempt.result;
    if (!user) return reply.code(401).send({ error: 'wrong e-mail or password', field: 'password' });
    const token = await app.accounts.openSession(user);
    request.principal = { kind: 'user', id: user.id, email: user.email, role: user.role, sites: user.sites, session: token };
    request.auditTarget = null;
    return reply.setCookie(SESSION_COOKIE, token, cookieOptions(request, '/', SESSION_TTL_MS)).code(204).send();
  });

  app.post('/api/logout', { config: { access: 'signed-in' } }, async (request, reply) => {
    if (request.principal?.kind === 'user') await app.accounts.endSession(request.principal.session);
    return reply.clearCookie(SESSION_COOKIE, { path: '/' }).code(204).send();
  });

  app.get('/api/me', { config: { access: 'signed-in' } }, async (request) => {
    const principal = request.principal!;
    return {
      email: principal.kind === 'user' ? principal.email : null,
      role: principal.kind === 'user' ? principal.role : principal.kind,
      sites: sitesOf(principal),
      permissions: permissionsOf(principal),
      ...(principal.kind === 'key' ? { key: principal.name } : {}),
    };
  });
};
