// Builds the dashboard: one minified script, one stylesheet and the page that loads them. The
// collector builds it in memory on start; `npx tsx dashboard/build.ts` prints the sizes.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));

/** Budget of the script, gzip -9 (issue 5): a dashboard that opens at once on a phone. */
export const JS_BUDGET_GZIP = 60 * 1024;

const gzipSize = (text: string): number => gzipSync(text, { level: 9 }).length;
const version = (text: string): string => createHash('sha256').update(text).digest('base64url').slice(0, 12);

async function bundle(entry: string): Promise<string> {
  const result = await build({
    entryPoints: [join(here, 'src', entry)],
    bundle: true,
    write: false,
    minify: true,
    format: 'iife',
    // Every browser since 2021 (Chrome 85, Safari 14.1, Firefox 79): ?., ??= and replaceChildren untranspiled.
    target: 'es2021',
    legalComments: 'none',
    outdir: 'out',
  });
  return result.outputFiles![0]!.text;
}

/** The page, script and stylesheet; the page names each asset with a version of its content. */
export async function buildDashboard(): Promise<{ html: string; js: string; css: string }> {
  const [js, css, page] = await Promise.all([
    bundle('main.ts'),
    bundle('style.css'),
    readFile(join(here, 'src/index.html'), 'utf8'),
  ]);
  const html = page
    .replace('/dashboard.js', `/dashboard.js?v=${version(js)}`)
    .replace('/dashboard.css', `/dashboard.css?v=${version(css)}`);
  return { html, js, css };
}

async function main(): Promise<void> {
  const { html, js, css } = await buildDashboard();
  for (const [name, text] of [['index.html', html], ['dashboard.js', js], ['dashboard.css', css]] as const) {
    console.log(`dashboard ${name}: ${text.length} B raw, ${gzipSize(text)} B gzip -9`);
  }
  if (gzipSize(js) > JS_BUDGET_GZIP) {
    console.error(`dashboard.js is over its budget of ${JS_BUDGET_GZIP} B gzip`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
