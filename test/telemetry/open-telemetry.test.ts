import { context, metrics, trace, SpanStatusCode } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStamper } from '../../client/index.js';
import { MemoryReplayStore } from '../../server/stores/memory.js';
import { ReplayStoreFullError, type ReplayStore } from '../../server/stores/replay-store.js';
import { openTelemetry, TELEMETRY_NAMES } from '../../server/telemetry/index.js';
import { createVerifier, type CreateVerifierOptions } from '../../server/verify/create-verifier.js';
import { makeKey, type TestKeyPair } from '../support/keys.js';
import { AsyncLocalContextManager, everyExportedValue, inMemorySdk, type InMemorySdk } from '../support/otel.js';
import type { NetworkHints, VerifyResult } from '../../server/verify/types.js';
import { IpStampError } from '../../shared/errors.js';

/**
 * ipstamp/telemetry against the real SDK 2.x with its in-memory exporters: which spans, with
 * which attributes, parented how; what the metrics count; and that nothing secret is exported.
 */
const { spans: SPAN, metrics: METRIC, attributes: ATTR } = TELEMETRY_NAMES;
const URL_ = 'http://api.example.com/orders';

let hmac: TestKeyPair;
let ec: TestKeyPair;
beforeAll(async () => {
  context.setGlobalContextManager(new AsyncLocalContextManager());
  hmac = await makeKey('HS256', 'tele-hs');
  ec = await makeKey('ES256', 'tele-es');
});
afterAll(() => {
  context.disable();
});

function setup(options: Partial<CreateVerifierOptions> = {}): {
  sdk: InMemorySdk;
  verify(token?: string, required?: boolean): ReturnType<ReturnType<typeof createVerifier>['verify']>;
} {
  const sdk = inMemorySdk();
  const verifier = createVerifier({
    keys: { keys: [hmac.publicJwk, ec.publicJwk] },
    telemetry: openTelemetry({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider }),
    ...options,
  });
  return {
    sdk,
    verify: (token, required = true) =>
      verifier.verify({
        method: 'GET',
        url: '/orders',
        headers: token === undefined ? { host: 'api.example.com' } : { host: 'api.example.com', 'client-ip-attestation': token },
        hints: { l3: '192.0.2.7' },
        required,
      }),
  };
}

const stamp = (key: TestKeyPair, ip = '192.0.2.7') => createStamper({ key: key.privateJwk, ip }).stamp({ method: 'GET', url: URL_ });

describe('zero cost when off, typed errors when wrong', () => {
  it('without the telemetry option the verifier runs the core verify itself (no wrapper); with it, the instrumented one', () => {
    const plain = createVerifier({ keys: { keys: [hmac.publicJwk] } });
    const instrumented = createVerifier({ keys: { keys: [hmac.publicJwk] }, telemetry: openTelemetry() });
    expect(plain.verify.name).toBe('verify');
    expect(instrumented.verify.name).toBe('instrumentedVerify');
  });

  it('a telemetry option not made by openTelemetry(), or a provider that is not one, is a TypeError naming it', () => {
    expect(() => createVerifier({ keys: { keys: [] }, telemetry: {} as never })).toThrow(/^telemetry must come from openTelemetry\(\)/);
    expect(() => openTelemetry({ tracerProvider: {} as never })).toThrow(TypeError);
    expect(() => openTelemetry({ tracerProvider: {} as never })).toThrow(/^tracerProvider must be/);
    expect(() => openTelemetry({ meterProvider: 'prometheus' as never })).toThrow(/^meterProvider must be/);
  });

  it('an unknown telemetry option is a TypeError naming it', () => {
    expect(() => openTelemetry({ tracer: {} } as never)).toThrow(new TypeError('unknown option "tracer"'));
    expect(() => openTelemetry({ meterProvder: {} } as never)).toThrow(new TypeError('unknown option "meterProvder" (did you mean "meterProvider"?)'));
  });
});

describe('spans', () => {
  it('an accepted stamp: ipstamp.verify under the caller’s span, ipstamp.replay_store.insert under it, ended first', async () => {
    const { sdk, verify } = setup();
    const app = sdk.tracerProvider.getTracer('app').startSpan('GET /orders');
    const result = await context.with(trace.setSpan(context.active(), app), () => verify(undefined as never).then(async () => verify(await stamp(ec))));
    app.end();
    expect(result.ok).toBe(true);
    const spans = sdk.spans();
    // the unstamped, required request first (no store call), then the accepted one
    expect(spans.map((s) => s.name)).toEqual([SPAN.verify, SPAN.replayStoreInsert, SPAN.verify, 'GET /orders']);
    const [missing, store, accepted] = spans;
    for (const span of [missing!, accepted!]) expect(span.parentSpanContext?.spanId).toBe(app.spanContext().spanId);
    expect(store!.parentSpanContext?.spanId).toBe(accepted!.spanContext().spanId);
    expect(missing!.attributes).toEqual({ [ATTR.outcome]: 'rejected', [ATTR.reason]: 'missing' });
    expect(accepted!.attributes).toEqual({
      [ATTR.outcome]: 'accepted',
      [ATTR.agreement]: 'match',
      [ATTR.replayChecked]: true,
      [ATTR.source]: 'stamp',
      [ATTR.kid]: 'tele-es',
      [ATTR.alg]: 'ES256',
      [ATTR.decidedBy]: 'l3',
      [ATTR.clientAddress]: '192.0.2.7',
    });
    expect(store!.attributes).toEqual({ [ATTR.storeOutcome]: 'inserted' });
    for (const span of spans) expect(span.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('refusals: the reason; the kid only once the key is known; a replay’s store span says replay; agreement mismatch is accepted', async () => {
    const { sdk, verify } = setup({ onMismatch: 'flag' });
    const token = await stamp(hmac);
    await verify(token);
    await verify(token);
    const forged = `${token.slice(0, token.lastIndexOf('.') + 1)}${'A'.repeat(43)}`;
    await verify(forged);
    const stranger = await createStamper({ key: { ...hmac.privateJwk, kid: 'who-knows' }, ip: '192.0.2.7' }).stamp({ method: 'GET', url: URL_ });
    await verify(stranger);
    await verify(await stamp(hmac, '198.51.100.9'));
    const verifies = sdk.spans().filter((s) => s.name === SPAN.verify);
    expect(verifies.map((s) => [s.attributes[ATTR.outcome], s.attributes[ATTR.reason] ?? s.attributes[ATTR.agreement], s.attributes[ATTR.kid]])).toEqual([
      ['accepted', 'match', 'tele-hs'],
      ['rejected', 'replay', 'tele-hs'],
      ['rejected', 'bad-signature', 'tele-hs'],
      ['rejected', 'unknown-key', undefined],
      ['accepted', 'mismatch', 'tele-hs'],
    ]);
    const stores = sdk.spans().filter((s) => s.name === SPAN.replayStoreInsert);
    expect(stores.map((s) => s.attributes[ATTR.storeOutcome])).toEqual(['inserted', 'replay', 'inserted']);
  });

  it('a store that fails: store span error with its error.type, never its message; verify span ERROR (store-unavailable); with accept, replay_checked false', async () => {
    const failing: ReplayStore = {
      insertIfAbsent: (key) => Promise.reject(Object.assign(new Error(`ECONNRESET while SET ${key}`), { code: 'ECONNRESET' })),
    };
    for (const onStoreError of ['reject', 'accept'] as const) {
      const { sdk, verify } = setup({ replayStore: failing, onStoreError });
      const result = await verify(await stamp(hmac));
      expect(result.ok).toBe(onStoreError === 'accept');
      const [store, verifySpan] = sdk.spans();
      expect(store!.attributes).toEqual({ [ATTR.storeOutcome]: 'error', [ATTR.errorType]: 'ECONNRESET' });
      expect(store!.status.code).toBe(SpanStatusCode.ERROR);
      if (onStoreError === 'reject') {
        expect(verifySpan!.attributes).toMatchObject({ [ATTR.reason]: 'store-unavailable', [ATTR.errorType]: 'store-unavailable' });
        expect(verifySpan!.status.code).toBe(SpanStatusCode.ERROR);
      } else {
        expect(verifySpan!.attributes).toMatchObject({ [ATTR.outcome]: 'accepted', [ATTR.replayChecked]: false });
        expect(verifySpan!.status.code).toBe(SpanStatusCode.UNSET);
      }
      expect((await everyExportedValue(sdk)).filter((v) => v.includes('ECONNRESET while'))).toEqual([]);
    }
  });

  it('a full store: outcome full, ERR_IPSTAMP_STORE_FULL on both spans', async () => {
    const full: ReplayStore = {
      insertIfAbsent: () => {
        throw new ReplayStoreFullError();
      },
    };
    const { sdk, verify } = setup({ replayStore: full, onStoreError: 'accept' });
    expect(await verify(await stamp(hmac))).toMatchObject({ ok: false, reason: 'store-unavailable', store: 'full' });
    const [store, verifySpan] = sdk.spans();
    expect(store!.attributes).toEqual({ [ATTR.storeOutcome]: 'full', [ATTR.errorType]: 'ERR_IPSTAMP_STORE_FULL' });
    expect(verifySpan!.attributes[ATTR.errorType]).toBe('ERR_IPSTAMP_STORE_FULL');
  });

  it('the instrumented store forwards close, and a synchronous store stays synchronous', async () => {
    let closed = 0;
    const store = new MemoryReplayStore();
    const sdk = inMemorySdk();
    const wrapped = openTelemetry({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider }).instrumentReplayStore(
      Object.assign(store, { close: () => void closed++ }),
    );
    expect(wrapped.insertIfAbsent('k j', 1000)).toBe(true);
    expect(wrapped.insertIfAbsent('k j', 1000)).toBe(false);
    await wrapped.close?.();
    expect(closed).toBe(1);
  });
});

describe('the globally registered SDK', () => {
  it('openTelemetry() with no providers uses what the app registered through the api (register the SDK first)', async () => {
    const sdk = inMemorySdk();
    expect(trace.setGlobalTracerProvider(sdk.tracerProvider)).toBe(true);
    expect(metrics.setGlobalMeterProvider(sdk.meterProvider)).toBe(true);
    try {
      const verifier = createVerifier({ keys: { keys: [hmac.publicJwk] }, telemetry: openTelemetry() });
      await verifier.verify({ method: 'GET', url: '/orders', headers: { host: 'api.example.com' }, hints: { l3: '192.0.2.7' } });
      expect(sdk.spans().map((s) => [s.name, s.attributes[ATTR.reason]])).toEqual([[SPAN.verify, 'missing']]);
      expect((await sdk.points(METRIC.requests)).map((p) => p.value)).toEqual([1]);
    } finally {
      trace.disable();
      metrics.disable();
    }
  });
});

describe('metrics', () => {
  it('ipstamp.requests by outcome, reason and agreement; both histograms count every call', async () => {
    const { sdk, verify } = setup();
    const replayed = await stamp(hmac);
    for (let i = 0; i < 3; i++) await verify(await stamp(i % 2 === 0 ? hmac : ec));
    await verify(replayed);
    await verify(replayed);
    await verify(replayed);
    await verify(undefined, false);
    await verify('not a stamp');
    const requests = await sdk.points(METRIC.requests);
    const byKey = Object.fromEntries(requests.map((p) => [JSON.stringify(p.attributes), p.value]));
    expect(byKey).toEqual({
      [JSON.stringify({ [ATTR.outcome]: 'accepted', [ATTR.agreement]: 'match', [ATTR.replayChecked]: true, [ATTR.source]: 'stamp' })]: 4,
      [JSON.stringify({ [ATTR.outcome]: 'rejected', [ATTR.reason]: 'replay' })]: 2,
      [JSON.stringify({ [ATTR.outcome]: 'unstamped' })]: 1,
      [JSON.stringify({ [ATTR.outcome]: 'rejected', [ATTR.reason]: 'malformed' })]: 1,
    });
    const verifyTimes = await sdk.points(METRIC.verifyDuration);
    expect(verifyTimes.reduce((n, p) => n + p.value, 0)).toBe(8);
    expect(Object.fromEntries(verifyTimes.map((p) => [p.attributes[ATTR.outcome], p.value]))).toEqual({ accepted: 4, rejected: 3, unstamped: 1 });
    const storeTimes = await sdk.points(METRIC.replayStoreDuration);
    expect(Object.fromEntries(storeTimes.map((p) => [p.attributes[ATTR.storeOutcome], p.value]))).toEqual({ inserted: 4, replay: 2 });
    const descriptors = Object.fromEntries((await sdk.metrics()).map((m) => [m.descriptor.name, m.descriptor.unit]));
    expect(descriptors).toEqual({ [METRIC.requests]: '{request}', [METRIC.verifyDuration]: 's', [METRIC.replayStoreDuration]: 's' });
  });
});

describe('nothing secret is exported', () => {
  it('no exported value holds a token, a segment of one, a key’s secret, an unverified kid or a store error message', async () => {
    const failing: ReplayStore = { insertIfAbsent: (key) => Promise.reject(new Error(`cannot store ${key}`)) };
    const runs: [Partial<CreateVerifierOptions>, (verify: ReturnType<typeof setup>['verify']) => Promise<string[]>][] = [
      [
        {},
        async (verify) => {
          const tokens = [await stamp(hmac), await stamp(ec), await stamp(hmac, '198.51.100.9')];
          for (const t of tokens) await verify(t);
          await verify(tokens[0]); // replay
          const forged = `${tokens[1]!.slice(0, -10)}AAAAAAAAAA`;
          const secretKid = `kid-${hmac.privateJwk.k}`;
          const unknown = await createStamper({ key: { ...hmac.privateJwk, kid: secretKid }, ip: '192.0.2.7' }).stamp({ method: 'GET', url: URL_ });
          const garbage = `eyJ${'x'.repeat(40)}.${hmac.privateJwk.k}.sig`;
          for (const t of [forged, unknown, garbage]) await verify(t);
          return [...tokens, forged, unknown, garbage, secretKid];
        },
      ],
      [
        { replayStore: failing },
        async (verify) => {
          const t = await stamp(hmac);
          await verify(t);
          return [t, 'cannot store'];
        },
      ],
    ];
    for (const [options, drive] of runs) {
      const { sdk, verify } = setup(options);
      const sent = await drive(verify);
      expect(sdk.spans().length).toBeGreaterThan(0);
      // any 16 characters in a row of a token or a key is a leak, not only the whole thing
      const forbidden = new Set(
        [...sent, hmac.privateJwk.k!, ec.privateJwk.d!, ec.publicJwk.x!, ec.publicJwk.y!].flatMap((secret) =>
          Array.from({ length: Math.max(1, secret.length - 15) }, (_, i) => secret.slice(i, i + 16)),
        ),
      );
      const exported = await everyExportedValue(sdk);
      const leaks = exported.filter((value) => [...forbidden].some((window) => value.includes(window)));
      expect(leaks).toEqual([]);
    }
  });
});

describe('instrumentVerify on its own (what the pipeline rarely or never answers)', () => {
  const instrumented = (sdk: InMemorySdk, answer: () => Promise<VerifyResult>) =>
    openTelemetry({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider }).instrumentVerify(answer);
  const input = { method: 'GET', url: '/orders', headers: { host: 'api.example.com' }, hints: { l3: '192.0.2.7' } };

  it('a verify that throws: its span ends with outcome error, the error’s code and status ERROR; the duration counts it as error; the error goes on', async () => {
    const sdk = inMemorySdk();
    const failure = Object.assign(new Error('key source exploded'), { code: 'ERR_KEY_SOURCE' });
    await expect(instrumented(sdk, () => Promise.reject(failure))(input)).rejects.toBe(failure);
    const [span] = sdk.spans();
    expect(span!.attributes).toEqual({ [ATTR.outcome]: 'error', [ATTR.errorType]: 'ERR_KEY_SOURCE' });
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    const times = await sdk.points(METRIC.verifyDuration);
    expect(times.map((p) => [p.attributes[ATTR.outcome], p.value])).toEqual([['error', 1]]);
    expect(await sdk.points(METRIC.requests)).toEqual([]);
    // without a code, its class names it
    await expect(instrumented(sdk, () => Promise.reject(new RangeError('x')))(input)).rejects.toThrow(RangeError);
    expect(sdk.spans()[1]!.attributes[ATTR.errorType]).toBe('RangeError');
  });

  it('a store answering through a promise: its span says inserted, then replay, as a synchronous one does', async () => {
    const sdk = inMemorySdk();
    const seen = new Set<string>();
    const store = openTelemetry({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider }).instrumentReplayStore({
      insertIfAbsent: async (key) => !seen.has(key) && Boolean(seen.add(key)),
    });
    expect([await store.insertIfAbsent('kid jti', 60_000), await store.insertIfAbsent('kid jti', 60_000)]).toEqual([true, false]);
    expect(sdk.spans().map((s) => s.attributes[ATTR.storeOutcome])).toEqual(['inserted', 'replay']);
  });

  it('the kid a client claims is never on a span: bad-ticket and unknown-key carry none; no decided_by when nothing decided', async () => {
    const sdk = inMemorySdk();
    const hints = { l3: '192.0.2.7', l7: [], observed: '192.0.2.7', decidedBy: 'l3' } as unknown as NetworkHints;
    for (const reason of ['bad-ticket', 'unknown-key'] as const) {
      await instrumented(sdk, async () => ({ ok: false, reason, status: 401, error: new IpStampError(reason), kid: 'claimed-by-client', hints }))(input);
    }
    await instrumented(sdk, async () => ({ ok: true, verdict: null, hints: { l3: undefined, l7: [] } }) as unknown as VerifyResult)(input);
    const attributes = sdk.spans().map((s) => s.attributes);
    expect(attributes.map((a) => a[ATTR.kid])).toEqual([undefined, undefined, undefined]);
    expect(Object.keys(attributes[2]!)).toEqual([ATTR.outcome]);
  });
});
