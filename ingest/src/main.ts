// `npm start`: reads the environment, starts the collector, prints what a newcomer needs.
import { buildApp } from './app.js';
import { ConfigError, readConfig } from './config.js';
import { DEMO_SITE, ensureDemoSite } from './demo.js';

async function main(): Promise<void> {
  const config = readConfig(process.env);
  const app = await buildApp(config, { logLevel: process.env.LOG_LEVEL || 'warn' });
  await app.listen({ port: config.port, host: config.host });

  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const base = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  await ensureDemoSite(app, base);

  console.log(`
Funnelbeam collector listening on ${base}
  Dashboard:    ${base}/
  Admin token:  ${app.adminToken}
  Demo shop:    ${base}/demo/
  Script tag:   <script defer data-site="your-site.example" src="${base}/f.js"></script>
  (register your site first: curl -X POST ${base}/api/sites -H 'authorization: Bearer ${app.adminToken}' \\
     -H 'content-type: application/json' -d '{"domain":"your-site.example","origins":["https://your-site.example"]}')
  Stats of the demo: curl -H 'authorization: Bearer ${app.adminToken}' '${base}/api/sites/${DEMO_SITE}/stats?from=2000-01-01&to=2999-12-31'
`);

  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    console.log(`${signal}: committing queued events and closing the database`);
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? `Configuration error: ${error.message}` : error);
  process.exit(1);
});
