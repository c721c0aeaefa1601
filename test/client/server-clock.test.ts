import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { createStampedFetch } from '../../client/index.js';
import { DEFAULT_MAX_CLOCK_CORRECTION_MS, echoTime, MAX_CLOCK_CORRECTION_LIMIT_MS, parseHttpDate } from '../../client/server-clock.js';
import { decodeBase64urlText } from '../../shared/base64url.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';

const ORIGIN = 'https://api.example.com';
/** 2026-12-04T12:00:00Z: the local clock of the properties below, whatever the machine's. */
const LOCAL = Date.UTC(2026, 11, 4, 12);

describe('parseHttpDate (RFC 9110 IMF-fixdate only)', () => {
  it('reads what Date#toUTCString writes, to the second, for every date in years 1000–9999', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date('1000-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }), (date) => {
        expect(parseHttpDate(date.toUTCString())).toBe(Math.floor(date.getTime() / 1000) * 1000);
      }),
      { numRuns: 500 },
    );
  });

  it('never throws, and what it accepts is a date written exactly as toUTCString writes it (or a leap second)', () => {
    const nearlyDates = fc
      .tuple(
        fc.date({ min: new Date('1000-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }),
        fc.nat(),
        fc.string({ minLength: 1, maxLength: 1, unit: 'binary' }),
      )
      .map(([date, at, char]) => {
        const text = date.toUTCString();
        const i = at % text.length;
        return text.slice(0, i) + char + text.slice(i + 1);
      });
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), nearlyDates), (text) => {
        const parsed = parseHttpDate(text);
        if (parsed === undefined) return;
        expect(Number.isFinite(parsed)).toBe(true);
        if (!text.includes(':60 GMT')) expect(new Date(parsed).toUTCString()).toBe(text);
      }),
      { numRuns: 2000 },
    );
  });

  it.each([
    ['Sun, 06 Nov 1994 08:49:37 GMT', Date.UTC(1994, 10, 6, 8, 49, 37)],
    ['Wed, 31 Dec 2025 23:59:60 GMT', Date.UTC(2026, 0, 1)],
    ['Mon, 06 Nov 1994 08:49:37 GMT', undefined], // the weekday does not fit
    ['Sunday, 06-Nov-94 08:49:37 GMT', undefined], // RFC 850, obsolete
    ['Sun Nov  6 08:49:37 1994', undefined], // asctime, obsolete
    ['Sun, 06 Nov 1994 08:49:37 UTC', undefined],
    ['Sun, 06 nov 1994 08:49:37 GMT', undefined],
    ['Sat, 31 Feb 2026 00:00:00 GMT', undefined],
    ['Sun, 06 Nov 1994 24:00:00 GMT', undefined],
    ['Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT', undefined], // two Date headers joined
    [' Sun, 06 Nov 1994 08:49:37 GMT', undefined],
    ['0', undefined],
    ['', undefined],
    [null, undefined],
  ])('%j → %j', (text, expected) => {
    expect(parseHttpDate(text)).toBe(expected);
  });
});

describe('echoTime (PROTOCOL §6 `time`)', () => {
  const answer = (body: string, type = 'application/json; charset=utf-8') => new Response(body, { headers: { 'content-type': type } });

  it('reads a whole number of seconds, from a clone: the caller still reads the whole body', async () => {
    const response = answer('{"ip":"127.0.0.1","time":1796385600}');
    expect(await echoTime(response)).toBe(1_796_385_600_000);
    expect(await response.json()).toEqual({ ip: '127.0.0.1', time: 1796385600 });
  });

  it.each([
    ['{"ip":"127.0.0.1"}', 'a verifier from before `time`'],
    ['{"ip":"127.0.0.1","time":1796385600.5}', 'not whole seconds'],
    ['{"ip":"127.0.0.1","time":"1796385600"}', 'a string'],
    ['{"ip":"127.0.0.1","time":1e300}', 'beyond what a Date holds'],
    ['{"time":1,"time":1796385600}', 'a repeated member'],
    ['[1796385600]', 'not an object'],
    [`{"ip":"127.0.0.1","pad":"${'x'.repeat(5000)}","time":1796385600}`, 'larger than any echo answer'],
  ])('%s → undefined (%s)', async (body) => {
    expect(await echoTime(answer(body))).toBeUndefined();
  });

  it('only reads JSON answers', async () => {
    expect(await echoTime(answer('{"time":1796385600}', 'text/plain'))).toBeUndefined();
  });
});

describe('a server that lies about the time', () => {
  let key: TestKeyPair;
  beforeAll(async () => {
    key = await makeKey('ES256');
  });

  /**
   * A fake network in front of one origin whose clock runs `offsets[i]` from the client's during
   * call i, and says so in its echo `time`, in the Date of its answers, or both. It refuses every
   * stamp `expired`, so the client is tempted to correct and retry on every call. Each answer
   * takes `rttMs` of the client's (fake) clock.
   */
  function lyingNetwork(offsets: readonly number[], channel: 'date' | 'time' | 'both', rttMs: number) {
    let local = LOCAL;
    let call = 0;
    const stamps: { iat: number; signedAt: number }[] = [];
    const requests: string[] = [];
    const serverNow = () => local + offsets[Math.min(call, offsets.length - 1)]!;
    const dateOf = (ms: number): Record<string, string> => (channel === 'time' ? {} : { date: new Date(ms).toUTCString() });
    const fetchFn = async (input: string, init?: RequestInit): Promise<Response> => {
      const signedAt = local;
      local += rttMs;
      const path = new URL(input).pathname;
      requests.push(path);
      if (path === '/.well-known/ipstamp') {
        const body = channel === 'date' ? { ip: '127.0.0.1' } : { ip: '127.0.0.1', time: Math.floor(serverNow() / 1000) };
        return new Response(JSON.stringify(body), { headers: { 'content-type': 'application/json', ...dateOf(serverNow()) } });
      }
      const token = new Headers(init?.headers).get('client-ip-attestation')!;
      const { iat } = JSON.parse(decodeBase64urlText(token.split('.')[1]!)!) as { iat: number };
      stamps.push({ iat, signedAt });
      const problem = { type: 'urn:ipstamp:expired', title: 'Client IP attestation has expired', status: 401, reason: 'expired' };
      return new Response(JSON.stringify(problem), { status: 401, headers: { 'content-type': 'application/problem+json', ...dateOf(serverNow()) } });
    };
    return { fetchFn, stamps, requests, now: () => local, nextCall: () => void call++ };
  }

  const offsetArb = fc.oneof(
    fc.integer({ min: -1e12, max: 1e12 }),
    fc.integer({ min: -2 * MAX_CLOCK_CORRECTION_LIMIT_MS, max: 2 * MAX_CLOCK_CORRECTION_LIMIT_MS }),
  );
  const boundArb = fc.oneof(fc.constant(undefined), fc.integer({ min: 0, max: MAX_CLOCK_CORRECTION_LIMIT_MS }));

  it('cannot move any stamp further than the bound from the client clock, whatever it says, however often', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(offsetArb, { minLength: 1, maxLength: 4 }),
        boundArb,
        fc.constantFrom('date' as const, 'time' as const, 'both' as const),
        fc.constantFrom('127.0.0.1' as const, 'echo' as const),
        fc.integer({ min: 0, max: 3000 }),
        async (offsets, bound, channel, ip, rttMs) => {
          const net = lyingNetwork(offsets, channel, rttMs);
          const stampedFetch = createStampedFetch({
            key: key.privateJwk,
            ip,
            echoTtlMs: ip === 'echo' ? 0 : undefined,
            fetch: net.fetchFn,
            now: net.now,
            maxClockCorrectionMs: bound,
          } as Parameters<typeof createStampedFetch>[0]);
          const limit = bound ?? DEFAULT_MAX_CLOCK_CORRECTION_MS;
          for (let i = 0; i < offsets.length; i++) {
            const stampsBefore = net.stamps.length;
            expect((await stampedFetch(`${ORIGIN}/orders`, { method: 'POST', body: 'x' })).status).toBe(401);
            expect(net.stamps.length - stampsBefore).toBeGreaterThanOrEqual(1);
            expect(net.stamps.length - stampsBefore).toBeLessThanOrEqual(2); // at most one retry per call
            net.nextCall();
          }
          for (const { iat, signedAt } of net.stamps) {
            expect(iat * 1000).toBeLessThanOrEqual(signedAt + limit);
            expect(iat * 1000).toBeGreaterThan(signedAt - limit - 1000); // iat is whole seconds, rounded down
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('and within the bound it is believed: a clock noticeably off is corrected to within the answer’s uncertainty', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 2000 }).chain((rttMs) =>
          fc.record({
            rttMs: fc.constant(rttMs),
            offset: fc.integer({ min: 2000 + rttMs, max: DEFAULT_MAX_CLOCK_CORRECTION_MS - 2000 - rttMs }).chain((m) => fc.constantFrom(m, -m)),
          }),
        ),
        async ({ rttMs, offset }) => {
          const net = lyingNetwork([offset], 'date', rttMs);
          const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1', fetch: net.fetchFn, now: net.now });
          await stampedFetch(`${ORIGIN}/orders`, { method: 'POST', body: 'x' });
          expect(net.requests).toEqual(['/orders', '/orders']); // refused, corrected, sent once more
          const retried = net.stamps[1]!;
          // the server's second is known to ±(1 s + rtt)/2 around its middle; iat rounds down by < 1 s
          expect(Math.abs(retried.iat * 1000 - (retried.signedAt + offset))).toBeLessThanOrEqual((1000 + rttMs) / 2 + 1000);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('maxClockCorrectionMs is checked at setup', () => {
    for (const bad of [-1, Number.NaN, Infinity, MAX_CLOCK_CORRECTION_LIMIT_MS + 1, '300000']) {
      expect(() => createStampedFetch({ key: key.privateJwk, ip: '127.0.0.1', maxClockCorrectionMs: bad as number })).toThrow(
        new TypeError(`maxClockCorrectionMs must be a number of milliseconds from 0 to ${MAX_CLOCK_CORRECTION_LIMIT_MS}`),
      );
    }
  });
});
