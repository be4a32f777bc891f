import { describe, expect, it } from 'vitest';
import {
  cookielessVisitorKey,
  newDailySalt,
  parseHttpUrl,
  redactEmails,
  redactProps,
  sanitizeReferrer,
  sanitizeUrl,
} from '../../src/enrich/privacy.js';

describe('sanitizeUrl', () => {
  it('keeps origin, path and utm_* parameters; drops fbclid, other parameters and the fragment', () => {
    expect(
      sanitizeUrl(
        'https://shop.example.com/deals/chicago-spa?fbclid=IwAR2xyz&utm_campaign=spring_sale&session=abc&utm_source=fb#reviews',
        [],
      ),
    ).toEqual({
      url: 'https://shop.example.com/deals/chicago-spa?utm_campaign=spring_sale&utm_source=fb',
      path: '/deals/chicago-spa',
      host: 'shop.example.com',
      utm: { campaign: 'spring_sale', source: 'fb' },
      gclid: false,
    });
  });

  it('keeps the parameters the site allows, and only those', () => {
    expect(sanitizeUrl('https://shop.example.com/search?q=spa&page=2&token=secret', ['q', 'page'])?.url).toBe(
      'https://shop.example.com/search?q=spa&page=2',
    );
  });

  it('gives all six utm fields, trimmed, the first occurrence winning; an empty tag is no tag', () => {
    expect(
      sanitizeUrl(
        'https://shop.example.com/?utm_source=+google+&utm_medium=cpc&utm_campaign=brand&utm_term=spa%20deals&utm_content=ad1&utm_id=42&utm_source=bing&utm_nope=',
        [],
      )?.utm,
    ).toEqual({ source: 'google', medium: 'cpc', campaign: 'brand', term: 'spa deals', content: 'ad1', id: '42' });
  });

  it('redacts e-mail addresses in the path and in the kept values', () => {
    expect(
      sanitizeUrl('https://shop.example.com/users/foo@example.com/orders?utm_source=foo@example.com&utm_medium=email', []),
    ).toEqual({
      url: 'https://shop.example.com/users/[email]/orders?utm_source=%5Bemail%5D&utm_medium=email',
      path: '/users/[email]/orders',
      host: 'shop.example.com',
      utm: { source: '[email]', medium: 'email' },
      gclid: false,
    });
    expect(sanitizeUrl('https://shop.example.com/u/foo%40example.com?utm_campaign=promo%20jane.doe%40mail.example.co.uk', [])).toEqual(
      {
        url: 'https://shop.example.com/u/[email]?utm_campaign=promo+%5Bemail%5D',
        path: '/u/[email]',
        host: 'shop.example.com',
        utm: { campaign: 'promo [email]' },
        gclid: false,
      },
    );
  });

  it('redacts e-mail addresses in allowed parameters too', () => {
    expect(sanitizeUrl('https://shop.example.com/?ref=bob@example.org', ['ref'])?.url).toBe(
      'https://shop.example.com/?ref=%5Bemail%5D',
    );
  });

  it('drops credentials, lowercases the host and keeps a non-default port', () => {
    expect(sanitizeUrl('http://user:pw@Shop.Example.COM:8080/A?x=1', [])).toEqual({
      url: 'http://shop.example.com:8080/A',
      path: '/A',
      host: 'shop.example.com',
      utm: {},
      gclid: false,
    });
  });

  it('reports a Google Ads click id (gclid, gbraid, wbraid) without keeping it', () => {
    expect(sanitizeUrl('https://shop.example.com/?gclid=EAIaIQobChMI', [])).toMatchObject({
      url: 'https://shop.example.com/',
      gclid: true,
    });
    expect(sanitizeUrl('https://shop.example.com/?gbraid=0AAAAA', [])?.gclid).toBe(true);
    expect(sanitizeUrl('https://shop.example.com/?gclid=', [])?.gclid).toBe(false);
  });

  it.each([
    ['javascript:', 'javascript:alert(1)'],
    ['data:', 'data:text/html,<b>x</b>'],
    ['ftp:', 'ftp://files.example.com/a'],
    ['a relative path', '/deals/chicago-spa?utm_source=x'],
    ['a protocol-relative URL', '//shop.example.com/'],
    ['an empty string', ''],
    ['garbage', 'not a url'],
  ])('rejects %s', (_name, raw) => {
    expect(sanitizeUrl(raw, [])).toBeNull();
  });
});

describe('sanitizeReferrer', () => {
  it('keeps origin and path only', () => {
    expect(sanitizeReferrer('https://www.google.com/search?q=spa+deals&hl=en#x')).toBe('https://www.google.com/search');
    expect(sanitizeReferrer('https://blog.example.org/2024/10/best-spas/')).toBe('https://blog.example.org/2024/10/best-spas/');
  });

  it('redacts e-mail addresses in the path', () => {
    expect(sanitizeReferrer('https://crm.example.net/contacts/jane.doe@example.com/edit?id=1')).toBe(
      'https://crm.example.net/contacts/[email]/edit',
    );
  });

  it('is null when missing, empty or not an http(s) URL', () => {
    expect(sanitizeReferrer(undefined)).toBeNull();
    expect(sanitizeReferrer('')).toBeNull();
    expect(sanitizeReferrer('android-app://com.google.android.gm/')).toBeNull();
    expect(sanitizeReferrer('/relative')).toBeNull();
  });

  it('parseHttpUrl gives the raw referrer with its query, for the search term', () => {
    expect(parseHttpUrl('https://www.bing.com/search?q=spa')?.searchParams.get('q')).toBe('spa');
    expect(parseHttpUrl(null)).toBeNull();
  });
});

describe('redactEmails', () => {
  it.each([
    ['plain', 'contact foo@example.com now', 'contact [email] now'],
    ['URL-encoded %40', 'u=foo%40example.com&x=1', 'u=[email]&x=1'],
    ['lower-case %40 hex is case-free anyway, upper-case domain', 'FOO%40EXAMPLE.COM', '[email]'],
    ['plus addressing and subdomains', 'jane.doe+promo@mail.example.co.uk', '[email]'],
    ['two addresses', 'a@b.io, c@d.org', '[email], [email]'],
    ['in a path', '/users/foo@example.com/orders', '/users/[email]/orders'],
  ])('%s', (_name, input, expected) => {
    expect(redactEmails(input)).toBe(expected);
  });

  it.each([
    ['no address', '/deals/chicago-spa'],
    ['an @ handle', 'follow @funnelbeam'],
    ['an @ without a domain', 'user@localhost'],
    ['a scoped package', '@scope/pkg'],
  ])('leaves %s alone', (_name, input) => {
    expect(redactEmails(input)).toBe(input);
  });

  // No clock here: at this size a pattern that backtracks quadratically would run for minutes,
  // far past the test's timeout, while a linear one takes milliseconds.
  it('does not backtrack on a long hostile input', () => {
    const hostile = `${'a'.repeat(100_000)}@${'b.'.repeat(40_000)}`;
    expect(redactEmails(hostile)).toBe(hostile);
  });
});

describe('redactProps', () => {
  it('redacts string values and keys, leaves numbers and booleans', () => {
    expect(redactProps({ email: 'foo@example.com', plan: 'pro', seats: 3, paid: true, 'bob@x.io': 'y' })).toEqual({
      email: '[email]',
      plan: 'pro',
      seats: 3,
      paid: true,
      '[email]': 'y',
    });
  });

  it('does not modify its argument', () => {
    const props = { email: 'foo@example.com' };
    redactProps(props);
    expect(props).toEqual({ email: 'foo@example.com' });
  });
});

describe('cookielessVisitorKey', () => {
  const ua = 'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0';

  it('is a stable 16-byte base64url hash for the same inputs', () => {
    const key = cookielessVisitorKey('salt-1', 'shop.example.com', '203.0.113.7', ua);
    expect(key).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(cookielessVisitorKey('salt-1', 'shop.example.com', '203.0.113.7', ua)).toBe(key);
  });

  it('is the known SHA-256 prefix: the first 22 base64url characters (so keys written today still match tomorrow’s code)', () => {
    expect(cookielessVisitorKey('s', 'site', '1.2.3.4', 'ua')).toBe('gG30pxxtdm5uUp5Xa4B01k');
  });

  it('changes with the salt, the site, the IP and the User-Agent', () => {
    const base = cookielessVisitorKey('salt-1', 'shop.example.com', '203.0.113.7', ua);
    expect(cookielessVisitorKey('salt-2', 'shop.example.com', '203.0.113.7', ua)).not.toBe(base);
    expect(cookielessVisitorKey('salt-1', 'blog.example.com', '203.0.113.7', ua)).not.toBe(base);
    expect(cookielessVisitorKey('salt-1', 'shop.example.com', '203.0.113.8', ua)).not.toBe(base);
    expect(cookielessVisitorKey('salt-1', 'shop.example.com', '203.0.113.7', `${ua} x`)).not.toBe(base);
  });

  it('does not confuse shifted field boundaries', () => {
    expect(cookielessVisitorKey('ab', 'c', 'ip', 'ua')).not.toBe(cookielessVisitorKey('a', 'bc', 'ip', 'ua'));
  });

  it('contains no trace of the IP', () => {
    expect(cookielessVisitorKey('s', 'site', '203.0.113.7', 'ua')).not.toContain('203');
  });
});

describe('newDailySalt', () => {
  it('is 32 random bytes in base64url, different each time', () => {
    const a = newDailySalt();
    const b = newDailySalt();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(b).not.toBe(a);
  });
});
