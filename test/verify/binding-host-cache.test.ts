import { describe, expect, it, vi } from 'vitest';
import { compileTrust } from '../../server/hints/trust.js';
import { bindingMatches } from '../../server/verify/binding.js';
import { nodePlatform } from '../../server/verify/node-platform.js';
import { originFromHost } from '../../shared/htu.js';

// every Host step 9 works out goes through originFromHost: counted here, answers unchanged
vi.mock(import('../../shared/htu.js'), async (original) => {
  const actual = await original();
  return { ...actual, originFromHost: vi.fn(actual.originFromHost) };
});

/**
 * Step 9 remembers Host → origin answers (server/verify/binding.ts), bounded like every cache
 * there: when 1024 are held it starts over, so hostile Host variety costs a re-parse, never memory.
 */
describe('the Host → origin cache of step 9', () => {
  it('forgets a Host once 1024 others came through, and works it out again', () => {
    const opts = { origins: undefined, requireBodyDigest: false, trust: compileTrust([]), protoHeader: undefined, platform: nodePlatform };
    const hints = { l3: '192.0.2.7', l4: undefined, l7: [] };
    const bind = (host: string) =>
      bindingMatches(
        { htm: 'GET', htu: `https://${host}/x` },
        { method: 'GET', url: '/x', protocol: 'https', headers: { host }, hints: { l3: '192.0.2.7' } },
        opts,
        hints,
      );
    const parsesOf = (host: string) => vi.mocked(originFromHost).mock.calls.filter(([h]) => h === host).length;
    const probe = 'probe.example.com';
    expect(bind(probe)).toBe(true);
    expect(bind('other.example.com')).toBe(true);
    expect(bind(probe)).toBe(true);
    expect(parsesOf(probe)).toBe(1); // remembered while there is room
    for (let i = 0; i <= 1024; i++) expect(bind(`h${i}.example.com`)).toBe(true);
    expect(bind(probe)).toBe(true);
    expect(parsesOf(probe)).toBe(2); // forgotten, then worked out again
  });
});
