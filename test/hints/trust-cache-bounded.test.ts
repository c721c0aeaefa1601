import { afterEach, describe, expect, it, vi } from 'vitest';
import { compileTrust } from '../../server/hints/trust.js';

/**
 * The trust matcher memoizes answers per address; forwarding-header entries are client-chosen,
 * so the memo must stay bounded ("hostile addresses cost speed, never memory").
 */
describe('trust matcher cache is bounded', () => {
  afterEach(() => vi.restoreAllMocks());

  it('starts over after 4096 distinct addresses, and still answers right', () => {
    const trust = compileTrust(['10.0.0.0/8']);
    const clear = vi.spyOn(Map.prototype, 'clear');
    for (let i = 0; i < 5000; i++) expect(trust.contains(`192.0.${i >> 8}.${i & 0xff}`)).toBe(false);
    expect(clear).toHaveBeenCalled();
    expect(trust.contains('10.1.2.3')).toBe(true);
    expect(trust.contains('192.0.0.1')).toBe(false);
  });
});
