// Launches the machine's Chromium for playwright-core tests; no browser is ever downloaded.
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { chromium, type Browser, type Page } from 'playwright-core';

/** CHROMIUM_PATH, else Debian's /usr/bin/chromium, else `chromium-browser` on the PATH. */
export function findChromium(): string {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`CHROMIUM_PATH=${fromEnv} does not exist`);
    return fromEnv;
  }
  if (existsSync('/usr/bin/chromium')) return '/usr/bin/chromium';
  try {
    const found = execFileSync('sh', ['-c', 'command -v chromium-browser || command -v chromium'], {
      encoding: 'utf8',
    }).trim();
    if (found) return found;
  } catch {}
  throw new Error(
    'No Chromium found: install it (Debian: apt-get install chromium) or set CHROMIUM_PATH',
  );
}

export interface LaunchOptions {
  /** Keep Chromium's back/forward cache on (Playwright turns it off by default). */
  bfcache?: boolean;
}

export function launchChromium(options: LaunchOptions = {}): Promise<Browser> {
  return chromium.launch({
    executablePath: findChromium(),
    headless: true,
    ignoreDefaultArgs: options.bfcache ? ['--disable-back-forward-cache'] : undefined,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * A laptop-sized en-US tab on the dashboard at `url`, signed in with the owner's token; page
 * errors and Content-Security-Policy reports are pushed to `problems`.
 */
export async function signedInDashboard(browser: Browser, url: string, token: string, problems: string[]): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 }, locale: 'en-US' });
  const page = await context.newPage();
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('console', (message) => {
    if (/Content.Security.Policy/i.test(message.text())) problems.push(message.text());
  });
  await page.goto(`${url}/`);
  await page.getByLabel('Admin token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  return page;
}
