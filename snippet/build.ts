// Builds the snippet: dist/f.js (the IIFE served at /f.js), dist/funnelbeam.mjs (ESM for
// bundlers), and the heatmap files dist/f-heatmaps.js (capture) and dist/f-overlay.js (overlay).
// Run `npx tsx snippet/build.ts`; prints raw and gzip -9 sizes.
import { build, type BuildOptions } from 'esbuild';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
export const distDir = join(here, 'dist');

const common: BuildOptions = {
  bundle: true,
  write: false,
  minify: true,
  // ?. and ||= untranspiled: every browser since 2020 (Chrome 85, Safari 14, Firefox 79).
  target: 'es2021',
  mangleProps: /^fb[A-Z]/,
  legalComments: 'none',
  // No "use strict" prologue: the output is strict-safe and 13 bytes is 13 bytes.
  tsconfigRaw: { compilerOptions: { alwaysStrict: false, strict: false } },
};

async function bundle(options: BuildOptions): Promise<string> {
  const result = await build({ ...common, ...options });
  return result.outputFiles![0]!.text;
}

export const gzipSize = (text: string): number => gzipSync(text, { level: 9 }).length;

/** The minified /f.js and its gzip -9 size; writes nothing (the collector builds on start). */
export async function buildSnippet(): Promise<{ js: string; gzipBytes: number }> {
  const js = await bundle({ entryPoints: [join(here, 'src/index.ts')], format: 'iife' });
  return { js, gzipBytes: gzipSize(js) };
}

/** The ESM module for bundlers: `import { init, track } from ...`. */
export function buildModule(): Promise<string> {
  return bundle({ entryPoints: [join(here, 'src/module.ts')], format: 'esm' });
}

/** /f-heatmaps.js: the click and scroll capture /f.js loads on pages with data-heatmaps. */
export async function buildHeatmapCapture(): Promise<{ js: string; gzipBytes: number }> {
  const js = await bundle({ entryPoints: [join(here, 'src/heatmaps.ts')], format: 'iife' });
  return { js, gzipBytes: gzipSize(js) };
}

/** /f-overlay.js: the heatmap drawn over the live page, loaded by the capture file on an overlay link. */
export async function buildOverlay(): Promise<{ js: string; gzipBytes: number }> {
  const js = await bundle({ entryPoints: [join(here, 'src/overlay.ts')], format: 'iife' });
  return { js, gzipBytes: gzipSize(js) };
}

async function main(): Promise<void> {
  const [{ js, gzipBytes }, mjs, capture, overlay] = await Promise.all([buildSnippet(), buildModule(), buildHeatmapCapture(), buildOverlay()]);
  await mkdir(distDir, { recursive: true });
  await writeFile(join(distDir, 'f.js'), js);
  await writeFile(join(distDir, 'funnelbeam.mjs'), mjs);
  console.log(`snippet/dist/f.js: ${js.length} B raw, ${gzipBytes} B gzip -9 (budget 1400 B)`);
  console.log(`snippet/dist/funnelbeam.mjs: ${mjs.length} B raw, ${gzipSize(mjs)} B gzip -9`);
  await writeFile(join(distDir, 'f-heatmaps.js'), capture.js);
  await writeFile(join(distDir, 'f-overlay.js'), overlay.js);
  console.log(`snippet/dist/f-heatmaps.js: ${capture.js.length} B raw, ${capture.gzipBytes} B gzip -9 (budget 1200 B)`);
  console.log(`snippet/dist/f-overlay.js: ${overlay.js.length} B raw, ${overlay.gzipBytes} B gzip -9`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
