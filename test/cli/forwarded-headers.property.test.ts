import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clientResponseHeaders, isStrippedRequestHeader, upstreamRequestHeaders, type UpstreamFacts } from '../../server/cli/forwarded-headers.js';
const STAMP_FACTS: UpstreamFacts = { verdict: { ip: '192.0.2.7', agreement: 'match', source: 'stamp' }, clientAddress: '127.0.0.1', protocol: 'http' };
const TICKET_FACTS: UpstreamFacts = {
  verdict: { ip: '192.0.2.8', agreement: 'unverifiable', source: 'ticket', issuer: 'https://edge.example.com' },
  clientAddress: '127.0.0.1',
  protocol: 'https',
};
const UNVERIFIED_FACTS: UpstreamFacts = { verdict: null, clientAddress: undefined, protocol: 'http' };

/** What the gateway writes, by canonical name, for each set of facts. */
const OURS_FOR_STAMP: Record<string, string[]> = {
  'x-attested-client-ip': ['192.0.2.7'],
  'x-attested-client-ip-agreement': ['match'],
  'x-attested-client-ip-source': ['stamp'],
  'x-attested-client-ip-issuer': [],
  'x-forwarded-for': ['127.0.0.1'],
  'x-forwarded-proto': ['http'],
  'x-forwarded-host': ['api.example.com'],
};

/** Names a client must never get to the upstream, in their plain spelling. */
const PROTECTED = [
  'x-attested-client-ip',
  'x-attested-client-ip-agreement',
  'x-attested-client-ip-source',
  'x-attested-client-ip-issuer',
  'x-attested-client-ip-anything',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'forwarded',
  'x-real-ip',
  'client-ip-attestation',
  'client-ip-ticket',
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
];

const TOKEN_CHARS = "!#$%&'*+.^`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_".split('');
const tokenName = fc.array(fc.constantFrom(...TOKEN_CHARS), { minLength: 1, maxLength: 24 }).map((cs) => cs.join(''));
const headerValue = fc.string({ maxLength: 20 }).map((s) => s.replace(/[\r\n\0]/g, ' '));

/** A name in another spelling: each letter's case flipped at will, each `-` possibly `_`. */
function respelled(name: string): fc.Arbitrary<string> {
  return fc
    .array(fc.tuple(fc.boolean(), fc.boolean()), { minLength: name.length, maxLength: name.length })
    .map((flips) => [...name].map((c, i) => (c === '-' && flips[i]![1] ? '_' : flips[i]![0] ? c.toUpperCase() : c)).join(''));
}

const protectedSpelling = fc.constantFrom(...PROTECTED).chain(respelled);

/** As CGI/WSGI/Rack read a name (written here, not imported: the test must not share the code it checks). */
function canonicalHeaderName(name: string): string {
  return name.toLowerCase().replaceAll('_', '-');
}

function byCanonicalName(lines: readonly string[]): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (let i = 0; i < lines.length; i += 2) {
    const name = canonicalHeaderName(lines[i]!);
    map.set(name, [...(map.get(name) ?? []), lines[i + 1]!]);
  }
  return map;
}

describe('forwarded-headers: which lines cross the gateway (property)', () => {
  it('every spelling (case, _ for -) of a protected name is stripped', () => {
    fc.assert(fc.property(protectedSpelling, (name) => isStrippedRequestHeader(name)));
  });

  it("whatever lines a client sends, the upstream gets exactly the gateway's own values for the gateway's names", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.oneof(protectedSpelling, tokenName), headerValue), { maxLength: 30 }), (lines) => {
        const raw = ['Host', 'api.example.com', ...lines.flat()];
        const got = byCanonicalName(upstreamRequestHeaders(raw, STAMP_FACTS));
        for (const [name, values] of Object.entries(OURS_FOR_STAMP)) expect(got.get(name) ?? []).toEqual(values);
        for (const name of PROTECTED) if (!(name in OURS_FOR_STAMP) && name !== 'connection') expect(got.has(name)).toBe(false);
        expect(got.get('host')).toEqual(['api.example.com']);
      }),
    );
  });

  it('a name the client lists in Connection is stripped in every spelling; the others are kept, in order', () => {
    const innocent = tokenName.filter((n) => !isStrippedRequestHeader(n) && canonicalHeaderName(n) !== 'host' && canonicalHeaderName(n) !== 'x-private');
    fc.assert(
      fc.property(fc.array(fc.tuple(innocent, headerValue), { maxLength: 10 }), respelled('x-private'), respelled('x-private'), (kept, listed, sent) => {
        const raw = ['Connection', `keep-alive, ${listed}`, sent, 'secret', ...kept.flat()];
        const out = upstreamRequestHeaders(raw, STAMP_FACTS);
        expect(byCanonicalName(out).has('x-private')).toBe(false);
        // the client's own lines first, untouched and in order; the gateway's after them
        expect(out.slice(0, kept.length * 2)).toEqual(kept.flat());
      }),
    );
  });

  it('a request forwarded unverified gets no X-Attested-Client-IP* at all, and no X-Forwarded-For when nothing was observed', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.oneof(protectedSpelling, tokenName), headerValue), { maxLength: 20 }), (lines) => {
        const got = byCanonicalName(upstreamRequestHeaders(lines.flat(), UNVERIFIED_FACTS));
        for (const name of got.keys()) expect(name.startsWith('x-attested-client-ip')).toBe(false);
        expect(got.has('x-forwarded-for')).toBe(false);
        expect(got.get('x-forwarded-proto')).toEqual(['http']);
      }),
    );
  });

  it('a ticket says so, with its issuer', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.oneof(protectedSpelling, tokenName), headerValue), { maxLength: 20 }), (lines) => {
        const got = byCanonicalName(upstreamRequestHeaders(lines.flat(), TICKET_FACTS));
        expect(got.get('x-attested-client-ip-source')).toEqual(['ticket']);
        expect(got.get('x-attested-client-ip-issuer')).toEqual(['https://edge.example.com']);
        expect(got.get('x-forwarded-for')).toEqual(['127.0.0.1']);
        expect(got.get('x-forwarded-proto')).toEqual(['https']);
        expect(got.has('x-forwarded-host')).toBe(false); // no Host line was sent
      }),
    );
  });

  it("the upstream's hop-by-hop headers and what its Connection names never reach the client", () => {
    const hop = fc.constantFrom('connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade');
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.oneof(
            hop,
            tokenName.map((n) => n.toLowerCase()),
          ),
          headerValue,
          { maxKeys: 12 },
        ),
        tokenName,
        (headers, named) => {
          const lowerNamed = named.toLowerCase();
          const response = { ...headers, connection: `close, ${named}`, [lowerNamed]: 'private' };
          const out = clientResponseHeaders(response);
          for (const name of Object.keys(out)) {
            expect(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']).not.toContain(canonicalHeaderName(name));
            expect(canonicalHeaderName(name)).not.toBe(canonicalHeaderName(named));
          }
          for (const [name, value] of Object.entries(headers)) {
            const canonical = canonicalHeaderName(name);
            const dropped = [
              'connection',
              'keep-alive',
              'proxy-connection',
              'te',
              'trailer',
              'transfer-encoding',
              'upgrade',
              canonicalHeaderName(named),
            ].includes(canonical);
            if (!dropped) expect(out[name]).toBe(value);
          }
        },
      ),
    );
  });
});
