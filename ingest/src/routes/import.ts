// POST /api/sites/:site/import: events one per line, as GET …/export writes them, streamed in
// (ingestion/importStream.ts) with no body limit: a fast sender is held back by TCP itself while
// each chunk commits.
import type { FastifyPluginAsync } from 'fastify';
import { ImportRun, StorageFailed } from '../ingestion/importStream.js';

const NDJSON = 'application/x-ndjson';

const importReply = {
  type: 'object',
  properties: {
    imported: { type: 'integer' },
    duplicates: { type: 'integer' },
    rejected: {
      type: 'array',
      items: { type: 'object', properties: { line: { type: 'integer' }, error: { type: 'string' }, field: { type: 'string' } } },
    },
    rejected_total: { type: 'integer' },
  },
} as const;

export const importRoutes: FastifyPluginAsync = async (app) => {
  // The payload goes to the handler as the raw stream: nothing is buffered, so no body limit.
  app.addContentTypeParser(NDJSON, (_request, payload, done) => done(null, payload));

  app.post<{ Params: { site: string }; Body: AsyncIterable<Buffer> }>('/api/sites/:site/import', {
    config: { access: 'admin', audit: 'site.import' },
    schema: { response: { 200: importReply } },
    // Checked before any parsing: the management scope would otherwise read a JSON body whole.
    onRequest: async (request, reply) => {
      const type = (request.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
      if (type !== NDJSON) return reply.code(415).send({ error: `the body must be ${NDJSON}, one event a line`, field: '(body)' });
    },
  }, async (request, reply) => {
    const site = await app.sites.find(request.params.site, 0);
    if (!site) return reply.code(404).send({ error: `no site ${request.params.site}`, field: 'site' });

    const run = new ImportRun(site, app.store);
    try {
      await run.read(request.body);
    } catch (error) {
      const { imported, duplicates } = run.result;
      if (error instanceof StorageFailed) {
        request.log.error({ err: error.cause }, 'import commit failed');
        reply.header('connection', 'close').header('retry-after', '5');
        return reply.code(503).send({ error: 'storage is unavailable, retry later', field: '(body)', imported, duplicates });
      }
      // The client went away mid-body: what was committed stays, the rest is not read.
      if (request.raw.complete) throw error;
      request.log.info({ err: error, imported }, 'import cut off: the client disconnected');
      return reply.code(400).send({ error: 'the body was cut off', field: '(body)', imported, duplicates });
    }

    if (run.objects === 0) {
      // No line was good, so nothing was written.
      const error = run.lines === 0 ? 'the body holds no event (one JSON object a line)' : `the body is not NDJSON (one JSON object a line): ${run.firstProblem}`;
      return reply.code(400).send({ error, field: '(body)' });
    }
    return run.result;
  });
};
