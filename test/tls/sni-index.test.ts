import { describe, expect, it } from 'vitest';
import { SniIndex } from '../../src/tls/sni-index.js';

const item = (id: string, ...hosts: string[]) => ({ id, hosts });

describe('SniIndex', () => {
  describe('#lookup', () => {
    it('finds an exact host, case-insensitively and without the root dot', () => {
      const index = new SniIndex<ReturnType<typeof item>>();
      index.add(item('a', 'a.example.com'));
      expect(index.lookup('a.example.com')?.id).toBe('a');
      expect(index.lookup('A.Example.COM.')?.id).toBe('a');
      expect(index.lookup('b.example.com')).toBeUndefined();
    });

    it('matches a leading wildcard for exactly one label', () => {
      const index = new SniIndex<ReturnType<typeof item>>();
      index.add(item('wild', '*.example.com'));
      expect(index.lookup('x.example.com')?.id).toBe('wild');
      expect(index.lookup('example.com')).toBeUndefined();
      expect(index.lookup('x.y.example.com')).toBeUndefined();
      expect(index.lookup('localhost')).toBeUndefined();
    });

    it('prefers an exact host over a wildcard, whatever the order they came in', () => {
      const index = new SniIndex<ReturnType<typeof item>>();
      index.add(item('exact', 'x.example.com'));
      index.add(item('wild', '*.example.com'));
      expect(index.lookup('x.example.com')?.id).toBe('exact');
      expect(index.lookup('y.example.com')?.id).toBe('wild');
    });
  });

  describe('#add / #remove', () => {
    it('lets the newest claim on a host win and brings the earlier one back when it goes', () => {
      const index = new SniIndex<ReturnType<typeof item>>();
      const old = item('old', 'a.test', '*.b.test');
      const newer = item('new', 'a.test', '*.b.test');
      index.add(old);
      index.add(newer);
      expect(index.lookup('a.test')?.id).toBe('new');
      expect(index.lookup('x.b.test')?.id).toBe('new');
      index.remove(newer);
      expect(index.lookup('a.test')?.id).toBe('old');
      expect(index.lookup('x.b.test')?.id).toBe('old');
      index.remove(old);
      expect(index.lookup('a.test')).toBeUndefined();
      expect(index.lookup('x.b.test')).toBeUndefined();
    });

    it('ignores removing an item it does not hold', () => {
      const index = new SniIndex<ReturnType<typeof item>>();
      const held = item('held', 'a.test');
      index.add(held);
      index.remove(item('other', 'a.test'));
      expect(index.lookup('a.test')?.id).toBe('held');
    });
  });
});
