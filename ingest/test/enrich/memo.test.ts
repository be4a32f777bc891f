import { describe, expect, it } from 'vitest';
import { boundedMemo } from '../../src/enrich/memo.js';

describe('boundedMemo', () => {
  it('computes each key once while it is cached', () => {
    const calls: string[] = [];
    const length = boundedMemo((key: string) => {
      calls.push(key);
      return key.length;
    });
    expect([length('ab'), length('abc'), length('ab')]).toEqual([2, 3, 2]);
    expect(calls).toEqual(['ab', 'abc']);
  });

  it('drops the oldest entry when full, and no other', () => {
    const calls: string[] = [];
    const upper = boundedMemo((key: string) => {
      calls.push(key);
      return key.toUpperCase();
    }, 2);
    upper('a');
    upper('b');
    upper('c'); // evicts 'a'
    upper('b');
    upper('a');
    expect(calls).toEqual(['a', 'b', 'c', 'a']);
  });

  it('caches a null result too', () => {
    let calls = 0;
    const nothing = boundedMemo((_key: string): null => {
      calls++;
      return null;
    });
    nothing('x');
    nothing('x');
    expect(calls).toBe(1);
  });
});
