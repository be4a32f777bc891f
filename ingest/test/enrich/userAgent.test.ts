import { describe, expect, it } from 'vitest';
import { parseUserAgent } from '../../src/enrich/userAgent.js';
import { UA } from './userAgents.js';

describe('parseUserAgent', () => {
  it.each([
    ['Chrome on Windows', UA.chromeWindows, { browser: 'Chrome', os: 'Windows', device: 'desktop' }],
    ['Safari on iPhone', UA.safariIphone, { browser: 'Safari', os: 'iOS', device: 'mobile' }],
    ['Safari on iPad', UA.safariIpad, { browser: 'Safari', os: 'iOS', device: 'tablet' }],
    ['Safari on a Mac', UA.safariMac, { browser: 'Safari', os: 'Mac OS', device: 'desktop' }],
    ['Firefox on Ubuntu', UA.firefoxLinux, { browser: 'Firefox', os: 'Ubuntu', device: 'desktop' }],
    ['Chrome on Android', UA.chromeAndroid, { browser: 'Chrome', os: 'Android', device: 'mobile' }],
    ['Edge on Windows', UA.edgeWindows, { browser: 'Edge', os: 'Windows', device: 'desktop' }],
  ])('%s', (_name, ua, expected) => {
    expect(parseUserAgent(ua)).toEqual(expected);
  });

  it('knows nothing of a User-Agent that is not a browser, and does not call it a desktop', () => {
    expect(parseUserAgent(UA.curl)).toEqual({ browser: null, os: null, device: null });
    expect(parseUserAgent(UA.googlebot)).toEqual({ browser: null, os: null, device: null });
    expect(parseUserAgent('')).toEqual({ browser: null, os: null, device: null });
  });

  it('returns the memoized result for a repeated User-Agent, frozen against shared mutation', () => {
    const first = parseUserAgent(UA.firefoxLinux);
    expect(parseUserAgent(UA.firefoxLinux)).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
  });
});
