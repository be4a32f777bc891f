import { describe, expect, it } from 'vitest';
import { isBot } from '../../src/enrich/bots.js';
import { UA } from './userAgents.js';

describe('isBot', () => {
  it.each([
    ['Chrome on Windows', UA.chromeWindows],
    ['Safari on iPhone', UA.safariIphone],
    ['Safari on iPad', UA.safariIpad],
    ['Firefox on Ubuntu', UA.firefoxLinux],
    ['Edge on Windows', UA.edgeWindows],
  ])('lets a real browser through: %s', (_name, ua) => {
    expect(isBot(ua)).toBe(false);
    expect(isBot(ua, { allowHeadless: true })).toBe(false);
  });

  it.each([
    ['Googlebot', UA.googlebot],
    ['Googlebot smartphone (a Chrome UA with a bot token)', UA.googlebotSmartphone],
    ['Bingbot', UA.bingbot],
    ['curl', UA.curl],
    ['python-requests', UA.pythonRequests],
  ])('flags %s, with or without allowHeadless', (_name, ua) => {
    expect(isBot(ua)).toBe(true);
    expect(isBot(ua, { allowHeadless: true })).toBe(true);
  });

  it('treats a missing or blank User-Agent as a bot', () => {
    expect(isBot(undefined)).toBe(true);
    expect(isBot('')).toBe(true);
    expect(isBot('   ')).toBe(true);
    expect(isBot(undefined, { allowHeadless: true })).toBe(true);
  });

  it('flags HeadlessChrome unless allowHeadless is set (the e2e tests drive a headless browser)', () => {
    expect(isBot(UA.headlessChrome)).toBe(true);
    expect(isBot(UA.headlessChrome, { allowHeadless: false })).toBe(true);
    expect(isBot(UA.headlessChrome, { allowHeadless: true })).toBe(false);
    // The answers are memoized per mode: asking again in the other mode must not leak.
    expect(isBot(UA.headlessChrome)).toBe(true);
  });
});
