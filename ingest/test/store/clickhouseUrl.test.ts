// DATABASE_URL for ClickHouse: clickhouse://USER:PASS@HOST:PORT/DB.
import { describe, expect, it } from 'vitest';
import { parseClickHouseUrl } from '../../src/store/clickhouse/index.js';

describe('parseClickHouseUrl', () => {
  it('reads user, password, host, port and database', () => {
    expect(parseClickHouseUrl('clickhouse://fb:s3cret@db.internal:8123/analytics')).toEqual({
      url: 'http://db.internal:8123', username: 'fb', password: 's3cret', database: 'analytics',
    });
  });

  it('decodes escaped characters in the password and fills in the defaults', () => {
    expect(parseClickHouseUrl('clickhouse://fb:p%40ss%3Aword@127.0.0.1')).toEqual({
      url: 'http://127.0.0.1:8123', username: 'fb', password: 'p@ss:word', database: 'funnelbeam',
    });
    expect(parseClickHouseUrl('clickhouse://[::1]:9123/x').url).toBe('http://[::1]:9123');
    expect(parseClickHouseUrl('clickhouse://[::1]:9123/x').username).toBe('default');
  });

  it('refuses a database name that is not a plain identifier', () => {
    expect(() => parseClickHouseUrl('clickhouse://u:p@h:8123/a;DROP')).toThrow(/database name/);
    expect(() => parseClickHouseUrl('clickhouse://u:p@h:8123/a-b')).toThrow(/database name/);
  });
});
