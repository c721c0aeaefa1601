import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  boundAuthority,
  stampedOrigin,
  clientResponseHeaders,
  isStrippedRequestHeader,
  maxForwardsOf,
  upstreamRequestHeaders,
  type UpstreamFacts,
} from '../../server/cli/forwarded-headers.js';
const STAMP_FACTS: UpstreamFacts = {
  verdict: { ip: '192.0.2.7', agreement: 'match', source: 'stamp' },
  clientAddress: '127.0.0.1',
  protocol: 'http',
  boundAuthority: 'api.example.com',
};
const TICKET_FACTS: UpstreamFacts = {
  verdict: { ip: '192.0.2.8', agreement: 'unverifiable', source: 'ticket', issuer: 'https://edge.example.com' },
  clientAddress: '127.0.0.1',
  protocol: 'https',
};
const UNVERIFIED_FACTS: UpstreamFacts = { verdict: null, clientAddress: undefined, protocol: 'http' };
/** `--report-only`: a refused request goes on unverified, with the reason. */
const REFUSED_FACTS: UpstreamFacts = { verdict: null, clientAddress: '127.0.0.1', protocol: 'http', refusal: 'ip-mismatch', boundAuthority: 'api.example.com' };

/** What the gateway writes, by canonical name, for each set of facts. */
const OURS_FOR_STAMP: Record<string, string[]> = {
  'x-attested-client-ip': ['192.0.2.7'],
  'x-attested-client-ip-agreement': ['match'],
  'x-attested-client-ip-source': ['stamp'],
  'x-attested-client-ip-issuer': [],
  'x-attested-client-ip-refusal': [],
  'x-attested-client-ip-replay': [],
  'x-forwarded-for': ['127.0.0.1'],
  'x-forwarded-proto': ['http'],
  'x-forwarded-host': ['api.example.com'],
};

/** Names a client must never get to the upstream, in their plain spelling (written here, not imported). */
const PROTECTED = [
  'x-attested-client-ip',
  'x-attested-client-ip-agreement',
  'x-attested-client-ip-source',
  'x-attested-client-ip-issuer',
  'x-attested-client-ip-refusal',
  'x-attested-client-ip-replay',
  'x-attested-client-ip-anything',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-forwarded',
  'x-forwardedfor',
  'forwarded',
  'forwarded-for',
  'x-real-ip',
  'x-client-ip',
  'client-ip',
  'true-client-ip',
  'x-true-client-ip',
  'akamai-client-ip',
  'cf-connecting-ip',
  'fastly-client-ip',
  'fly-client-ip',
  'x-cluster-client-ip',
  'x-original-forwarded-for',
  'x-originating-ip',
  'x-remote-ip',
  'x-remote-addr',
  'x-proxyuser-ip',
  'wl-proxy-client-ip',
  'proxy-client-ip',
  'x-appengine-remote-addr',
  'x-appengine-user-ip',
  'x-azure-clientip',
  'x-azure-socketip',
  'x-envoy-external-address',
  'x-original-url',
  'x-rewrite-url',
  'x-override-url',
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
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

/** Prefixes: every name that starts with one of these (in any spelling) is the gateway's. */
const PROTECTED_PREFIXES = ['x-attested-client-ip', 'x-forwarded'];

/** The token characters (RFC 9110 §5.6.2) that are not letters or digits. */
const SEPARATORS = "!#$%&'*+.^`|~-_".split('');
const TOKEN_CHARS = [...'0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', ...SEPARATORS];
const tokenName = fc.array(fc.constantFrom(...TOKEN_CHARS), { minLength: 1, maxLength: 24 }).map((cs) => cs.join(''));
const headerValue = fc.string({ maxLength: 20 }).map((s) => s.replace(/[\r\n\0]/g, ' '));

/**
 * A name in another spelling that lighttpd reads as the same: each letter's case flipped at
 * will, each `-` any token character that is not a letter or digit.
 */
function respelled(name: string): fc.Arbitrary<string> {
  return fc
    .array(fc.tuple(fc.boolean(), fc.constantFrom(...SEPARATORS)), { minLength: name.length, maxLength: name.length })
    .map((flips) => [...name].map((c, i) => (c === '-' ? flips[i]![1] : flips[i]![0] ? c.toUpperCase() : c)).join(''));
}

const protectedSpelling = fc.constantFrom(...PROTECTED).chain(respelled);

/**
 * The CGI variable lighttpd makes of a header name (src/http_cgi.c, `http_cgi_encode_varname`):
 * letters upper-cased, digits kept, every other character `_`. CGI, WSGI and Rack do the same
 * to `-`; no upstream reads two names as one where lighttpd reads them as two. Written here,
 * not imported: the test must not share the code it checks.
 */
function cgiVariable(name: string): string {
  return `HTTP_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/** A header name as the weakest upstream reads it, written as a lower-case name again. */
function canonicalHeaderName(name: string): string {
  return cgiVariable(name).slice('HTTP_'.length).toLowerCase().replaceAll('_', '-');
}

const PROTECTED_VARIABLES: ReadonlySet<string> = new Set(PROTECTED.map(cgiVariable));
const PROTECTED_VARIABLE_PREFIXES = PROTECTED_PREFIXES.map(cgiVariable);

/** Does lighttpd map `name` onto a variable of a header the gateway writes or strips? */
function mapsOntoProtected(name: string): boolean {
  const variable = cgiVariable(name);
  return PROTECTED_VARIABLES.has(variable) || PROTECTED_VARIABLE_PREFIXES.some((prefix) => variable.startsWith(prefix));
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
  it('every spelling (case, any non-alphanumeric token character for -) of a protected name is stripped', () => {
    fc.assert(fc.property(protectedSpelling, (name) => isStrippedRequestHeader(name)));
  });

  it("every name lighttpd's CGI/FastCGI rule maps onto a header the gateway writes or strips is stripped", () => {
    // built to map onto one (a protected name or prefix, respelled, and any suffix after a prefix) …
    const onto = fc.oneof(
      protectedSpelling,
      fc
        .tuple(fc.constantFrom(...PROTECTED_PREFIXES).chain(respelled), fc.array(fc.constantFrom(...TOKEN_CHARS), { maxLength: 8 }))
        .map(([p, s]) => p + s.join('')),
    );
    fc.assert(
      fc.property(onto, (name) => {
        expect(mapsOntoProtected(name)).toBe(true);
        expect(isStrippedRequestHeader(name)).toBe(true);
      }),
      { numRuns: 2000 },
    );
    // … and any name at all: when lighttpd reads it as one of ours, it stops at the gateway
    fc.assert(fc.property(fc.oneof(tokenName, onto), (name) => !mapsOntoProtected(name) || isStrippedRequestHeader(name)));
  });

  it.each([
    'X.Attested.Client.IP',
    "X'Attested'Client'IP",
    'X~Attested~Client~IP',
    'X-Attested-Client.IP',
    'X.Forwarded.For',
    'X.Real.IP',
    'X~Forwarded~For',
    'X-Forwarded',
    'X-ForwardedFor',
    'Client-IP',
    'X-Original-URL',
    'x|rewrite|url',
    'X-HTTP-Method-Override',
    'x_http_method',
  ])('%s is stripped', (name) => {
    expect(isStrippedRequestHeader(name)).toBe(true);
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

  it("a verified request's X-Forwarded-Host is the authority the stamp was bound to, never the client's Host; Host goes as received", () => {
    fc.assert(
      fc.property(tokenName, fc.array(fc.tuple(fc.oneof(protectedSpelling, tokenName), headerValue), { maxLength: 10 }), (host, lines) => {
        const got = byCanonicalName(upstreamRequestHeaders(['Host', host, ...lines.flat()], STAMP_FACTS));
        expect(got.get('x-forwarded-host')).toEqual(['api.example.com']);
        expect(got.get('host')).toEqual([host]);
      }),
    );
    const noBound = byCanonicalName(upstreamRequestHeaders(['Host', 'evil.example'], { ...STAMP_FACTS, boundAuthority: undefined }));
    expect(noBound.has('x-forwarded-host')).toBe(false);
  });

  it('an unverified request (a preflight) keeps X-Forwarded-Host as its Host', () => {
    const got = byCanonicalName(upstreamRequestHeaders(['Host', 'app.example:8443'], { ...UNVERIFIED_FACTS, boundAuthority: 'ignored.example' }));
    expect(got.get('x-forwarded-host')).toEqual(['app.example:8443']);
  });

  it('X-Forwarded-Host is never a list or a parameter: a host with a character a hostname never has gets none, whoever chose it', () => {
    const plainHost = fc.stringMatching(/^(?:[A-Za-z0-9._~-]{1,20}|\[[0-9a-fA-F:.]{2,20}\])(?::[0-9]{1,5})?$/);
    fc.assert(
      fc.property(fc.oneof(tokenName, plainHost), fc.constantFrom(STAMP_FACTS, REFUSED_FACTS, UNVERIFIED_FACTS), (authority, facts) => {
        // the stamp's own origin (verified, refused) or the client's Host (a preflight) is the authority
        const got = byCanonicalName(upstreamRequestHeaders(['Host', authority], { ...facts, boundAuthority: authority }));
        if (/[^a-z0-9._~:[\]-]/i.test(authority)) expect(got.has('x-forwarded-host')).toBe(false);
        for (const value of got.get('x-forwarded-host') ?? []) expect(value).toMatch(/^[a-z0-9._~:[\]-]+$/i);
        expect(got.get('host')).toEqual([authority]);
      }),
    );
    expect(byCanonicalName(upstreamRequestHeaders(['Host', 'x'], { ...STAMP_FACTS, boundAuthority: 'evil.example,api.example' })).has('x-forwarded-host')).toBe(
      false,
    );
    expect(byCanonicalName(upstreamRequestHeaders(['Host', '[2001:db8::1]:8443'], STAMP_FACTS)).get('x-forwarded-host')).toEqual(['api.example.com']);
  });

  it('a preflight goes without Cookie, Authorization, Proxy-Authorization or Content-*, in any spelling; other lines stay', () => {
    const credential = fc
      .constantFrom('cookie', 'authorization', 'proxy-authorization', 'content-type', 'content-length', 'content-encoding', 'content-x')
      .chain(respelled);
    const innocent = tokenName.filter(
      (n) => !isStrippedRequestHeader(n) && !/^(host|cookie|authorization|proxy-authorization|content-.*)$/.test(canonicalHeaderName(n)),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(credential, headerValue), { maxLength: 6 }),
        fc.array(fc.tuple(innocent, headerValue), { maxLength: 6 }),
        (dropped, kept) => {
          const facts: UpstreamFacts = { ...UNVERIFIED_FACTS, preflight: true };
          const out = upstreamRequestHeaders([...dropped.flat(), ...kept.flat()], facts);
          const names = new Set(byCanonicalName(out).keys());
          for (const name of ['cookie', 'authorization', 'proxy-authorization']) expect(names.has(name)).toBe(false);
          for (const name of names) expect(name.startsWith('content-')).toBe(false);
          expect(out.slice(0, kept.length * 2)).toEqual(kept.flat());
          // the same lines on a request that is not a preflight are kept
          const plain = upstreamRequestHeaders(dropped.flat(), UNVERIFIED_FACTS);
          expect(plain.slice(0, dropped.length * 2)).toEqual(dropped.flat());
        },
      ),
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

  it("the client's Host goes on even when its Connection names Host: the upstream never serves another host than the one asked for", () => {
    fc.assert(
      fc.property(respelled('host'), (listed) => {
        const out = byCanonicalName(upstreamRequestHeaders(['Host', 'app.example', 'Connection', `keep-alive, ${listed}`], STAMP_FACTS));
        expect(out.get('host')).toEqual(['app.example']);
      }),
    );
  });

  it('only the first Host line goes on, and X-Forwarded-Host of an unverified request is that one', () => {
    const out = byCanonicalName(upstreamRequestHeaders(['Host', 'app.example', 'Host', 'evil.example'], UNVERIFIED_FACTS));
    expect(out.get('host')).toEqual(['app.example']);
    expect(out.get('x-forwarded-host')).toEqual(['app.example']);
  });

  it("with --forwarded-header, the client's own line of that name stops at the gateway in every spelling", () => {
    const innocent = tokenName.filter((n) => !isStrippedRequestHeader(n) && !['host', 'x-client-addr'].includes(canonicalHeaderName(n)));
    fc.assert(
      fc.property(respelled('x-client-addr'), respelled('x-client-addr'), fc.array(fc.tuple(innocent, headerValue), { maxLength: 6 }), (flag, sent, kept) => {
        const out = upstreamRequestHeaders([sent, '203.0.113.9', ...kept.flat()], { ...STAMP_FACTS, forwardedHeader: flag });
        expect(byCanonicalName(out).has('x-client-addr')).toBe(false);
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

  it('a request refused in report-only carries its reason as the one X-Attested-Client-IP* line, and the bound X-Forwarded-Host, whatever the client wrote', () => {
    fc.assert(
      fc.property(tokenName, fc.array(fc.tuple(fc.oneof(protectedSpelling, tokenName), headerValue), { maxLength: 20 }), (host, lines) => {
        const got = byCanonicalName(upstreamRequestHeaders(['Host', host, ...lines.flat()], REFUSED_FACTS));
        const attested = [...got.entries()].filter(([name]) => name.startsWith('x-attested-client-ip'));
        expect(attested).toEqual([['x-attested-client-ip-refusal', ['ip-mismatch']]]);
        expect(got.get('x-forwarded-for')).toEqual(['127.0.0.1']);
        expect(got.get('x-forwarded-host')).toEqual(['api.example.com']);
      }),
    );
  });

  it('a stamp accepted without its replay check says so, and only then, whatever the client wrote', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.oneof(protectedSpelling, tokenName), headerValue), { maxLength: 20 }), fc.boolean(), (lines, checked) => {
        const facts: UpstreamFacts = { ...STAMP_FACTS, verdict: { ...STAMP_FACTS.verdict!, replayChecked: checked } };
        const got = byCanonicalName(upstreamRequestHeaders(lines.flat(), facts));
        expect(got.get('x-attested-client-ip-replay') ?? []).toEqual(checked ? [] : ['unchecked']);
        expect(got.get('x-attested-client-ip')).toEqual(['192.0.2.7']);
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

  it('Max-Forwards (RFC 9110 §7.6.2): read on OPTIONS only, from exactly one line of digits; the rewrite replaces every line with one', () => {
    const maxForwardsLine = fc.tuple(
      fc.constantFrom('Max-Forwards', 'max-forwards', 'MAX-FORWARDS'),
      fc.oneof(fc.nat({ max: 2 ** 31 }).map(String), headerValue),
    );
    fc.assert(
      fc.property(
        fc.constantFrom('OPTIONS', 'GET', 'POST', 'TRACE', 'options'),
        fc.array(fc.tuple(tokenName, headerValue), { maxLength: 6 }),
        fc.array(maxForwardsLine, { maxLength: 3 }),
        (method, others, maxLines) => {
          const raw = [...others, ...maxLines].flat();
          const got = maxForwardsOf(method, raw);
          const values = raw.flatMap((v, i) => (i % 2 === 0 && v.toLowerCase() === 'max-forwards' ? [raw[i + 1]!] : []));
          const digits = values.length === 1 && /^\d{1,9}$/.test(values[0]!.trim());
          expect(got).toBe(method === 'OPTIONS' && digits ? Number(values[0]!.trim()) : undefined);
          const rewritten = byCanonicalName(upstreamRequestHeaders(raw, { ...STAMP_FACTS, maxForwards: 7 }));
          expect(rewritten.get('max-forwards')).toEqual(['7']);
          const untouched = byCanonicalName(upstreamRequestHeaders(raw, STAMP_FACTS));
          expect(untouched.get('max-forwards') ?? []).toEqual(values);
        },
      ),
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

describe('boundAuthority: the origin htu named, from what the verifier compared it with', () => {
  it.each([
    // no --origin: exactly the origin Host names under the scheme the binding check believed
    [undefined, 'API.Example.com:80', 'http', 'api.example.com'],
    [undefined, 'api.example.com:443', 'https', 'api.example.com'],
    [undefined, 'api.example.com:8443', 'https', 'api.example.com:8443'],
    [undefined, '[::1]:9000', 'http', '[::1]:9000'],
    [undefined, 'api%2eexample.com', 'http', undefined],
    [undefined, undefined, 'http', undefined],
    // one --origin: that one, whatever Host says
    [['https://api.example.com'], 'evil.example', 'http', 'api.example.com'],
    [['https://api.example.com:8443'], undefined, 'http', 'api.example.com:8443'],
    // several: the one Host names; none when Host names none of them (no guess)
    [['https://a.example', 'https://b.example'], 'b.example', 'http', 'b.example'],
    [['https://a.example', 'https://b.example'], 'B.example:443', 'http', 'b.example'],
    [['https://a.example', 'http://b.example:8080'], 'b.example:8080', 'https', 'b.example:8080'],
    [['https://a.example', 'https://b.example'], 'evil.example', 'http', undefined],
    [['https://a.example', 'https://b.example'], undefined, 'http', undefined],
  ] as const)('origins %j, Host %j, %s → %j', (origins, host, scheme, expected) => {
    expect(boundAuthority(origins, host, scheme)).toBe(expected);
  });

  it('several: a verified stamp names its own origin, whatever Host names (step 9 does not compare them)', () => {
    const origins = ['https://a.example', 'https://b.example:8443'];
    expect(boundAuthority(origins, 'b.example:8443', 'https', 'https://a.example')).toBe('a.example');
    expect(boundAuthority(origins, 'evil.example', 'https', 'https://b.example:8443')).toBe('b.example:8443');
    expect(boundAuthority(origins, 'a.example', 'https', 'https://evil.example')).toBeUndefined();
    // one origin, or none configured: the stamp adds nothing to what the binding check compared
    expect(boundAuthority(['https://api.example.com'], 'evil.example', 'https', 'https://other.example')).toBe('api.example.com');
  });

  it('stampedOrigin reads the origin of the stamp payload htu, and nothing from what it cannot read', () => {
    const token = (claims: unknown) => `e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;
    expect(stampedOrigin(token({ htu: 'https://a.example:8443/x/y' }))).toBe('https://a.example:8443');
    expect(stampedOrigin(token({ htu: 'https://a.example' }))).toBeUndefined();
    expect(stampedOrigin(token({ htu: 7 }))).toBeUndefined();
    expect(stampedOrigin('e30.%%%.sig')).toBeUndefined();
    expect(stampedOrigin(`e30.${Buffer.from('{').toString('base64url')}.sig`)).toBeUndefined();
    expect(stampedOrigin(['a', 'b'])).toBeUndefined();
    expect(stampedOrigin(undefined)).toBeUndefined();
  });
});
