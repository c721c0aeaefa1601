import { describe, expect, it } from 'vitest';
import { createVerifier } from '../../server/verify/create-verifier.js';
import { loosenedPolicies, loosenedPolicyNames } from '../../server/verify/loosened-policies.js';
import { networkHints } from '../../server/verify/network-hints.js';
import { compileOptions, type VerifierOptions } from '../../server/verify/options.js';
import { requestScheme } from '../../server/verify/scheme.js';
import type { ConnectionHints, HeaderMap } from '../../server/verify/types.js';
import { compiledOptionsOf } from '../../server/verify/verifier.js';
import { createVerifierCore } from '../../server/verify/create-verifier.js';
import { MapReplayStore } from '../support/map-store.js';
import { nodePlatform } from '../../server/verify/node-platform.js';

/**
 * Issue 13 item 4: `verifier.settings` is a frozen, plain view of what the verifier runs with;
 * the compiled machinery (`keySource`, `trust`, `verifyTicket`, the store, the clock) is not
 * reachable from a verifier any more — only this package's glue reads it, via compiledOptionsOf.
 */
const core = (options: Partial<VerifierOptions> = {}) => createVerifierCore({ keys: { keys: [] }, replayStore: new MapReplayStore(), ...options });

describe('verifier.settings', () => {
  it('holds every default, as plain data', () => {
    expect(core().settings).toEqual({
      maxAge: 30,
      skew: 5,
      onStoreError: 'reject',
      onMismatch: 'reject',
      onUnverifiable: 'reject',
      requireBodyDigest: false,
      trustedProxies: [],
      forwardedHeader: 'x-forwarded-for',
      protoHeader: 'x-forwarded-proto',
      origins: undefined,
      issuers: [],
    });
  });

  it('reads back what was configured: presets expanded, names lower case, origins normalized, issuers by origin', () => {
    const settings = core({
      maxAge: 60,
      skew: 2,
      onStoreError: 'accept',
      onMismatch: 'flag',
      onUnverifiable: 'accept',
      requireBodyDigest: true,
      trustedProxies: ['loopback', '10.0.0.0/8'],
      forwardedHeader: 'Forwarded',
      origins: ['HTTPS://API.Example.com:443'],
      issuers: { 'https://edge.example.com': { keys: [] } },
    }).settings;
    expect(settings).toEqual({
      maxAge: 60,
      skew: 2,
      onStoreError: 'accept',
      onMismatch: 'flag',
      onUnverifiable: 'accept',
      requireBodyDigest: true,
      trustedProxies: ['127.0.0.0/8', '::1/128', '10.0.0.0/8'],
      forwardedHeader: 'forwarded',
      protoHeader: 'forwarded',
      origins: ['https://api.example.com'],
      issuers: ['https://edge.example.com'],
    });
    expect(core({ protoHeader: false }).settings.protoHeader).toBe(false);
  });

  it('is frozen, arrays included: a caller cannot loosen a verifier through it', () => {
    const verifier = core({ trustedProxies: ['10.0.0.0/8'], origins: ['https://api.example.com'] });
    const { settings } = verifier;
    expect(Object.isFrozen(settings)).toBe(true);
    for (const list of [settings.trustedProxies, settings.origins, settings.issuers]) expect(Object.isFrozen(list)).toBe(true);
    expect(() => Object.assign(settings, { onMismatch: 'flag' })).toThrow(TypeError);
    expect(() => (settings.trustedProxies as string[]).push('0.0.0.0/0')).toThrow(TypeError);
    expect(verifier.settings.onMismatch).toBe('reject');
  });

  it('exposes no compiled machinery: no options, key source, trust matcher, ticket check, store or clock', () => {
    const verifier = createVerifier({ keys: { keys: [] }, issuers: { 'https://edge.example.com': { keys: [] } } });
    expect(Object.keys(verifier).sort()).toEqual(['hints', 'scheme', 'settings', 'verify']);
    expect('options' in verifier).toBe(false);
    for (const name of ['keySource', 'trust', 'verifyTicket', 'replayStore', 'now']) expect(name in verifier.settings).toBe(false);
    for (const value of Object.values(verifier.settings)) expect(typeof value).not.toBe('function');
  });
});

describe('createVerifier: unknown options', () => {
  it('refuses a key that is no option with a TypeError naming it (a typo would otherwise keep the default)', () => {
    expect(() => createVerifier({ keys: { keys: [] }, bogus: 1 } as never)).toThrow(new TypeError('unknown option "bogus"'));
    expect(() => createVerifier({ keys: { keys: [] }, trustedProxy: ['10.0.0.1'] } as never)).toThrow(
      new TypeError('unknown option "trustedProxy" (did you mean "trustedProxies"?)'),
    );
    expect(() => createVerifier({ keys: { keys: [] }, onMismach: 'flag' } as never)).toThrow(
      new TypeError('unknown option "onMismach" (did you mean "onMismatch"?)'),
    );
    // an adapter's own switch is no verifier option
    expect(() => createVerifier({ keys: { keys: [] }, requireStamp: false } as never)).toThrow(new TypeError('unknown option "requireStamp"'));
  });

  it('takes every option it documents', () => {
    const verifier = createVerifier({
      keys: { keys: [] },
      maxAge: 60,
      skew: 2,
      now: Date.now,
      replayStore: new MapReplayStore(),
      onStoreError: 'reject',
      trustedProxies: ['loopback'],
      forwardedHeader: 'x-forwarded-for',
      onMismatch: 'flag',
      onUnverifiable: 'reject',
      requireBodyDigest: true,
      origins: ['https://api.example.com'],
      protoHeader: false,
      issuers: {},
      telemetry: undefined,
    });
    expect(verifier.settings).toMatchObject({ maxAge: 60, onMismatch: 'flag' });
  });
});

describe("compiledOptionsOf (the glue's way in)", () => {
  it('gives the compiled options of a verifier this package made, its store the one passed in', () => {
    const replayStore = new MapReplayStore();
    const opts = compiledOptionsOf(createVerifierCore({ keys: { keys: [] }, replayStore }));
    expect(opts.replayStore).toBe(replayStore);
    expect(typeof opts.keySource).toBe('function');
  });

  it('refuses anything else with a TypeError', () => {
    const verifier = core();
    expect(() => compiledOptionsOf({ ...verifier })).toThrow(TypeError);
  });
});

describe('verifier.scheme', () => {
  const trusted = { trustedProxies: '10.0.0.0/8' } as const;
  const cases: [string, ConnectionHints, HeaderMap, 'http' | 'https' | undefined, string][] = [
    ['trusted peer, X-Forwarded-Proto https', { l3: '10.0.0.1' }, { 'x-forwarded-proto': 'https' }, undefined, 'https proto-header'],
    ['untrusted peer, X-Forwarded-Proto https', { l3: '192.0.2.7' }, { 'x-forwarded-proto': 'https' }, undefined, 'http connection'],
    ['trusted peer, SSL TLV', { l3: '10.0.0.1', proxyTls: true }, {}, undefined, 'https proxy-tls'],
    ['a TLS connection', { l3: '192.0.2.7', tls: true }, {}, undefined, 'https connection'],
    ['protocol https', { l3: '192.0.2.7' }, {}, 'https', 'https connection'],
  ];

  it.each(cases)('%s: the answer requestScheme gives on the compiled options', (_name, hints, headers, protocol, expected) => {
    const verifier = core(trusted);
    const input = protocol === undefined ? { headers, hints } : { headers, hints, protocol };
    const opts = compileOptions({ keys: { keys: [] }, replayStore: new MapReplayStore(), ...trusted }, nodePlatform);
    const reference = requestScheme(input, networkHints(input, opts), opts);
    const answer = verifier.scheme(input);
    expect(`${answer.scheme} ${answer.from}`).toBe(expected);
    expect(answer).toEqual(reference);
    expect(verifier.scheme(input, verifier.hints(input))).toEqual(reference);
  });
});

describe('loosenedPolicies: what a start line and the plugin warning say out loud', () => {
  it('names nothing for the strict defaults, given or left out', () => {
    expect(loosenedPolicies({})).toEqual([]);
    expect(loosenedPolicies({ onMismatch: 'reject', onUnverifiable: 'reject', onStoreError: 'reject' })).toEqual([]);
    expect(loosenedPolicies(core().settings)).toEqual([]);
  });
  it('names each loosened policy, alone or together, in a fixed order', () => {
    expect(loosenedPolicyNames(loosenedPolicies({ onStoreError: 'accept' }))).toEqual(['onStoreError: accept']);
    expect(loosenedPolicyNames(loosenedPolicies({ onUnverifiable: 'accept' }))).toEqual(['onUnverifiable: accept']);
    expect(loosenedPolicyNames(loosenedPolicies({ onMismatch: 'flag' }))).toEqual(['onMismatch: flag']);
    const all = core({ onStoreError: 'accept', onUnverifiable: 'accept', onMismatch: 'flag' }).settings;
    expect(loosenedPolicyNames(loosenedPolicies(all))).toEqual(['onMismatch: flag', 'onUnverifiable: accept', 'onStoreError: accept']);
  });
});
