import { expect, it, vi } from 'vitest';
import { createStampedFetch, createStamper } from '../../client/index.js';
import type { Verdict } from '../../server/verify/types.js';
import type { TestKeyPair } from './keys.js';
import { sendJson } from './raw-exchange.js';
import { writeAndReset } from './reset-client.js';

/**
 * What the NestJS recipes of docs/node.md (Express platform) and docs/fastify.md (Fastify
 * platform) share in their tests, test/nest/express.test.ts and test/nest/fastify.test.ts: the
 * controller's answer, how the client stamps, and the recipe's tests that read the same on both
 * platforms.
 */

/** What the test apps' controller answers. */
export type NestAnswer = { ipStamp?: Verdict | null; sameAsReq?: boolean; body?: unknown; reason?: string };

export interface RecipeTokenOptions {
  method?: string;
  ip?: string;
  body?: string;
}

/** A stamp for `url` from 127.0.0.1 (or `ip`), with `cdg` when a body is given. */
export function recipeToken(key: TestKeyPair, url: string, options: RecipeTokenOptions = {}): Promise<string> {
  return createStamper({ key: key.privateJwk, ip: options.ip ?? '127.0.0.1', bodyDigest: options.body !== undefined }).stamp({
    method: options.method ?? 'GET',
    url,
    body: options.body,
  });
}

/** The file's shared Nest app, as the tests below need it; `reached` and `peersAtClose` are emptied before each test. */
export interface NestRecipeApp {
  readonly origin: string;
  readonly port: number;
  readonly key: TestKeyPair;
  /** The controller's routes that ran, as `METHOD /path`. */
  readonly reached: readonly string[];
  /** The peer ipstamp read for each connection of `GET /public/peer` once the client reset it. */
  readonly peersAtClose: readonly string[];
}

/** The two bodies the controller's `POST /orders` parses on both platforms. */
const BODIES = {
  json: { type: 'application/json', signed: '{"item":42}', changed: '{"item":43}' },
  form: { type: 'application/x-www-form-urlencoded', signed: 'item=42&size=l', changed: 'item=43&size=l' },
} as const;

export interface NestPlatform {
  /** The body-digest test's name: which parsers read the bodies differs by platform. */
  readonly bodyDigestsTest: string;
  /** The body whose change must be binding-mismatch: the one whose parser is the platform's own concern. */
  readonly changedBody: keyof typeof BODIES;
  /** The peer test's name: what tracks the peers differs by platform. */
  readonly peerTest: string;
}

/**
 * The recipe's tests that are the same on either platform (each file calls this at the end of
 * its "the recipe" describe, on its shared app, whose `trustedProxies` are ['127.0.0.2']): body
 * digests of JSON and forms, the echo route, a trusted peer's X-Forwarded-For, and the peer of a
 * connection the client reset.
 */
export function nestRecipeTests(appUnderTest: () => NestRecipeApp, platform: NestPlatform): void {
  it(platform.bodyDigestsTest, async () => {
    const { origin, key, reached } = appUnderTest();
    const url = `${origin}/orders`;
    const { json, form } = BODIES;
    const changedBody = BODIES[platform.changedBody];
    const signedJson = await recipeToken(key, url, { method: 'POST', body: json.signed });
    const signedForm = await recipeToken(key, url, { method: 'POST', body: form.signed });
    const changed = await recipeToken(key, url, { method: 'POST', body: changedBody.signed });
    const post = (type: string, token: string, body: string) =>
      sendJson<NestAnswer>(url, { method: 'POST', headers: { 'content-type': type, 'client-ip-attestation': token }, body });
    const acceptedJson = await post(json.type, signedJson, json.signed);
    const acceptedForm = await post(form.type, signedForm, form.signed);
    const refused = await post(changedBody.type, changed, changedBody.changed);
    expect([acceptedJson.status, acceptedJson.json.ipStamp?.agreement, acceptedJson.json.body]).toEqual([201, 'match', { item: 42 }]);
    expect([acceptedForm.status, acceptedForm.json.ipStamp?.agreement, acceptedForm.json.body]).toEqual([201, 'match', { item: '42', size: 'l' }]);
    expect([refused.status, refused.json.reason]).toEqual([401, 'binding-mismatch']);
    expect(reached).toEqual(['POST /orders', 'POST /orders']);
  });

  it("the echo route answers through Nest: createStampedFetch({ ip: 'echo' }) learns its address there and is accepted", async () => {
    const { origin, key, reached } = appUnderTest();
    const stampedFetch = createStampedFetch({ key: key.privateJwk, ip: 'echo' });
    const res = await stampedFetch(`${origin}/orders`);
    const verdict = ((await res.json()) as { ipStamp: Verdict }).ipStamp;
    expect([res.status, verdict.ip, verdict.agreement]).toEqual([200, '127.0.0.1', 'match']);
    expect(reached).toEqual(['GET /orders']);
  });

  it("trustedProxies: a trusted peer's X-Forwarded-For names the client; a stranger's is ip-mismatch", async () => {
    const { origin, key } = appUnderTest();
    const url = `${origin}/orders`;
    const forwarded = async () => ({ 'x-forwarded-for': '198.51.100.7', 'client-ip-attestation': await recipeToken(key, url, { ip: '198.51.100.7' }) });
    const trusted = await sendJson<NestAnswer>(url, { headers: await forwarded(), from: '127.0.0.2' });
    const stranger = await sendJson<NestAnswer>(url, { headers: await forwarded(), from: '127.0.0.3' });
    expect([trusted.status, trusted.json.ipStamp?.ip, trusted.json.ipStamp?.agreement]).toEqual([200, '198.51.100.7', 'match']);
    expect([stranger.status, stranger.json.reason]).toEqual([403, 'ip-mismatch']);
  });

  it(platform.peerTest, async () => {
    const { port, peersAtClose } = appUnderTest();
    await writeAndReset(port, '/public/peer', {});
    await vi.waitFor(() => expect(peersAtClose).toEqual(['127.0.0.1']));
  });
}
