// Bearer-token guard for the management API.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Compares digests of equal length in constant time, so the reply time leaks nothing of the token. */
export function tokenMatches(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

export function requireAdminToken(expected: string) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const header = request.headers.authorization ?? '';
    const presented = header.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : '';
    if (!presented || !tokenMatches(presented, expected)) {
      reply.header('www-authenticate', 'Bearer');
      return reply.code(401).send({ error: 'a valid admin token is required (Authorization: Bearer …)', field: 'authorization' });
    }
  };
}
