import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateStampKey, type StampKey } from '../../client/index.js';
import { createServerClocks } from '../../client/server-clock.js';
import { createTicketHolder } from '../../client/ticket-holder.js';
import { createTicketRequestProof } from '../../client/ticket-proof.js';
import { ticketTag, unsignedTicket, unsignedTicketAnswer } from '../support/unsigned-ticket.js';

// The ticket holder (PROTOCOL §7.1): when it asks the issuer, what it accepts as a ticket, and
// how often it signs a proof again. The issuer here is a fetch of the test's own: it sees every
// proof, and answers what the test says.

const ISSUER = 'https://edge.test';
const T = 1_800_000_000_000; // a whole second, ms

let key: StampKey;
beforeAll(async () => {
  key = await generateStampKey({ alg: 'ES256' });
});

function ticketAnswer(body: Record<string, unknown>, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

/** The issuer's answer: a ticket for this test's key, told apart by `tag`. */
function issued(tag: string, ip = '192.0.2.1', exp = T / 1000 + 600): Response {
  return ticketAnswer(unsignedTicketAnswer({ ip, exp, jwk: key.publicJwk }, tag));
}

function refusal(reason: string, date: number): Response {
  return new Response(JSON.stringify({ type: 'about:blank', status: 401, reason }), {
    status: 401,
    headers: { 'content-type': 'application/problem+json', date: new Date(date).toUTCString() },
  });
}

function proofIat(init: RequestInit | undefined): number {
  const proof = (init?.headers as Record<string, string>)['client-ip-attestation']!;
  return (JSON.parse(Buffer.from(proof.split('.')[1]!, 'base64url').toString('utf8')) as { iat: number }).iat;
}

/**
 * A holder on a clock the test sets, whose issuer answers ticket t1, t2, … with the `exp` that
 * `expAt(clock)` gives; `asked()` counts its requests.
 */
function holderOnClock(expAt: (clockMs: number) => number) {
  let clock = T;
  let asked = 0;
  const holder = createTicketHolder({
    issuer: ISSUER,
    key,
    now: () => clock,
    fetch: async () => issued(`t${++asked}`, '192.0.2.1', expAt(clock)),
  });
  const ticketAt = async (ms: number): Promise<string> => {
    clock = ms;
    return ticketTag((await holder.get()).ticket);
  };
  return { ticketAt, asked: () => asked };
}

describe('renewal: a ticket is renewed 30 s before its exp', () => {
  it('at exp − 31 s the held ticket is used; at exp − 30 s a new one is asked for, so no stamp leaves with a ticket about to expire', async () => {
    const exp = T / 1000 + 600;
    const { ticketAt, asked } = holderOnClock(() => exp);
    expect(await ticketAt(T)).toBe('t1');
    expect(await ticketAt((exp - 31) * 1000)).toBe('t1');
    expect(await ticketAt((exp - 30) * 1000)).toBe('t2');
    expect(asked()).toBe(2);
  });
});

describe('renewal of a ticket that lives less than a minute: halfway through its life', () => {
  it('a 20 s ticket is used for 10 s, then renewed: not asked for again before every stamp', async () => {
    const { ticketAt, asked } = holderOnClock((clock) => clock / 1000 + 20);
    expect([await ticketAt(T), await ticketAt(T), await ticketAt(T + 9_999)]).toEqual(['t1', 't1', 't1']);
    expect([await ticketAt(T + 10_000), await ticketAt(T + 19_999)]).toEqual(['t2', 't2']);
    expect(await ticketAt(T + 20_000)).toBe('t3');
    expect(asked()).toBe(3);
  });

  it('a 1 s ticket (the shortest an issuer hands out) is kept for half a second', async () => {
    const { ticketAt } = holderOnClock((clock) => Math.floor(clock / 1000) + 1);
    expect([await ticketAt(T), await ticketAt(T + 499), await ticketAt(T + 500)]).toEqual(['t1', 't1', 't2']);
  });

  it('a ticket that arrives already past its exp is not kept: the next stamp asks again', async () => {
    const { ticketAt } = holderOnClock(() => T / 1000 - 5);
    expect([await ticketAt(T), await ticketAt(T)]).toEqual(['t1', 't2']);
  });
});

describe('what the holder accepts as a ticket', () => {
  const holderAnswering = (answer: () => Response) => createTicketHolder({ issuer: ISSUER, key, now: () => T, fetch: async () => answer() });

  it('an ip that is not canonical (PROTOCOL §3) is refused: every stamp carrying it would be bad-claims', async () => {
    const holder = holderAnswering(() =>
      ticketAnswer({
        ticket: unsignedTicket({ ip: '::ffff:192.0.2.1', exp: T / 1000 + 600, jwk: key.publicJwk }),
        ip: '::ffff:192.0.2.1',
        exp: T / 1000 + 600,
      }),
    );
    await expect(holder.get()).rejects.toMatchObject({ code: 'ERR_IPSTAMP_TICKET_FAILED' });
  });

  it('a ticket of 2048 bytes is taken, one of 2049 refused (PROTOCOL §7.2: at most 2048; a verifier would answer bad-ticket)', async () => {
    const sized = (length: number) => {
      const ticket = unsignedTicket({ ip: '192.0.2.1', exp: T / 1000 + 600, jwk: key.publicJwk }, '');
      return ticketAnswer({ ticket: ticket + 'x'.repeat(length - ticket.length), ip: '192.0.2.1', exp: T / 1000 + 600 });
    };
    const ok = holderAnswering(() => sized(2048));
    expect((await ok.get()).ticket).toHaveLength(2048);
    const tooLong = holderAnswering(() => sized(2049));
    await expect(tooLong.get()).rejects.toMatchObject({ code: 'ERR_IPSTAMP_TICKET_FAILED' });
  });

  // A ticket every verifier would refuse as unknown-key or binding-mismatch — never bad-ticket,
  // the one answer that drops a held ticket — would be held until its exp. So the holder reads
  // the ticket's claims (not its signature) before it keeps it.
  const EXP = T / 1000 + 600;
  const segment = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const header = { alg: 'ES256', typ: 'ipstamp-ticket+jwt', kid: 'k' };
  const claimsFor = (jwk: unknown, ip = '192.0.2.1', exp = EXP) => ({ iss: ISSUER, ip, iat: EXP - 600, exp, jti: 'AAAAAAAAAAAAAAAAAAAAAA', cnf: { jwk } });
  const mismatches: [string, () => Promise<{ ticket: string; ip?: string; exp?: number }>, string][] = [
    ['not a JWS', async () => ({ ticket: 't' }), 'form'],
    ['four segments', async () => ({ ticket: `${segment(header)}.${segment(claimsFor(key.publicJwk))}.c2ln.c2ln` }), 'form'],
    ['claims that are not base64url JSON', async () => ({ ticket: `${segment(header)}.bm90IGpzb24.c2ln` }), 'form'],
    [
      'another typ (a proof, say)',
      async () => ({ ticket: `${segment({ ...header, typ: 'ipstamp-ticket-req+jwt' })}.${segment(claimsFor(key.publicJwk))}.c2ln` }),
      'form',
    ],
    [
      'claims naming ip twice (PROTOCOL §7.2: no repeated members)',
      async () => ({
        ticket: `${segment(header)}.${Buffer.from(JSON.stringify(claimsFor(key.publicJwk)).replace('{', '{"ip":"192.0.2.7",')).toString('base64url')}.c2ln`,
      }),
      'form',
    ],
    [
      'a ticket for another address than the body says',
      async () => ({ ticket: `${segment(header)}.${segment(claimsFor(key.publicJwk, '192.0.2.7'))}.c2ln` }),
      'ip',
    ],
    [
      'a ticket whose exp is not the body’s',
      async () => ({ ticket: `${segment(header)}.${segment(claimsFor(key.publicJwk, '192.0.2.1', EXP + 3600))}.c2ln` }),
      'exp',
    ],
    [
      'a ticket bound to another client’s key',
      async () => ({ ticket: `${segment(header)}.${segment(claimsFor((await generateStampKey({ alg: 'ES256' })).publicJwk))}.c2ln` }),
      'key',
    ],
    ['a ticket bound to no key', async () => ({ ticket: `${segment(header)}.${segment({ ...claimsFor(key.publicJwk), cnf: {} })}.c2ln` }), 'key'],
  ];
  it.each(mismatches)('%s: ERR_IPSTAMP_TICKET_FAILED naming what does not match, nothing held, and the next call asks again', async (_name, make, mismatch) => {
    let asked = 0;
    let answer = await make();
    const holder = holderAnswering(() => (asked++, ticketAnswer({ ip: '192.0.2.1', exp: EXP, ...answer })));
    await expect(holder.get()).rejects.toMatchObject({ code: 'ERR_IPSTAMP_TICKET_FAILED', cause: { status: 200, mismatch } });
    answer = unsignedTicketAnswer({ ip: '192.0.2.1', exp: EXP, jwk: key.publicJwk }, 'good');
    expect(ticketTag((await holder.get()).ticket)).toBe('good');
    expect(asked).toBe(2);
  });

  it('the control: a ticket for this key, address and exp is held, whatever member order and other claims the issuer writes', async () => {
    const claims = {
      cnf: { jwk: { y: key.publicJwk.y, x: key.publicJwk.x, kty: 'EC', crv: 'P-256', kid: 'extra' } },
      exp: EXP,
      jti: 'j',
      ip: '192.0.2.1',
      iss: ISSUER,
      iat: EXP - 60,
      more: 1,
    };
    const ticket = `${segment(header)}.${segment(claims)}.c2ln`;
    const holder = holderAnswering(() => ticketAnswer({ ticket, ip: '192.0.2.1', exp: EXP }));
    expect((await holder.get()).ticket).toBe(ticket);
  });

  it('only a 200 is a ticket answer (PROTOCOL §7.1), whatever the body of another status looks like', async () => {
    const holder = holderAnswering(() => ticketAnswer(unsignedTicketAnswer({ ip: '192.0.2.1', exp: T / 1000 + 600, jwk: key.publicJwk }), 202));
    await expect(holder.get()).rejects.toMatchObject({ code: 'ERR_IPSTAMP_TICKET_FAILED', cause: { status: 202 } });
  });
});

describe('a proof refused for its time is signed again once, at the issuer’s time', () => {
  it('a client 2 min ahead: refused not-yet-valid, signed again at the issuer’s time, and the ticket comes', async () => {
    let local = T + 120_000;
    const clocks = createServerClocks({ now: () => local });
    const iats: number[] = [];
    const holder = createTicketHolder({
      issuer: ISSUER,
      key,
      clocks,
      fetch: async (_input: unknown, init?: RequestInit) => {
        const iat = proofIat(init);
        iats.push(iat);
        local += 10;
        return iat > T / 1000 + 5 ? refusal('not-yet-valid', T) : issued('t');
      },
    });
    expect(ticketTag((await holder.get()).ticket)).toBe('t');
    expect(iats).toHaveLength(2);
    expect(Math.abs(iats[1]! - T / 1000)).toBeLessThanOrEqual(1);
  });

  it('an issuer whose Date moves on every answer gets two proofs, never more', async () => {
    const clocks = createServerClocks({ now: () => T });
    let posts = 0;
    const holder = createTicketHolder({
      issuer: ISSUER,
      key,
      clocks,
      fetch: async () => {
        posts++;
        if (posts > 5) return ticketAnswer({}, 500); // a holder that keeps asking is stopped here, and counted
        return refusal('expired', T + (posts % 2 === 0 ? 120_000 : -120_000));
      },
    });
    await expect(holder.get()).rejects.toMatchObject({ code: 'ERR_IPSTAMP_TICKET_FAILED' });
    expect(posts).toBe(2);
  });
});

describe('the ticket request does not follow a redirect', () => {
  let server: Server;
  let origin: string;
  beforeAll(async () => {
    // A ticket endpoint that redirects: the proof (bound to this URL) would go to another endpoint.
    server = createServer((req, res) => {
      if (req.url === '/.well-known/ipstamp/ticket') res.writeHead(307, { location: '/elsewhere' }).end();
      else
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify(unsignedTicketAnswer({ ip: '192.0.2.9', exp: 4_000_000_000, jwk: key.publicJwk })));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('a 307 from the issuer is ERR_IPSTAMP_TICKET_FAILED, not a ticket from wherever it points', async () => {
    const holder = createTicketHolder({ issuer: origin, key, fetch: (input: string, init?: RequestInit) => fetch(input, init) });
    await expect(holder.get()).rejects.toMatchObject({ code: 'ERR_IPSTAMP_TICKET_FAILED' });
  });
});

describe('which ticket is dropped, and where it is asked for', () => {
  it('a late bad-ticket for a ticket already replaced does not drop the new one: no third request to the issuer', async () => {
    let asked = 0;
    const holder = createTicketHolder({
      issuer: ISSUER,
      key,
      now: () => T,
      fetch: async () => issued(`t${++asked}`),
    });
    const t1 = (await holder.get()).ticket;
    expect(ticketTag(t1)).toBe('t1');
    holder.invalidate(t1);
    expect(ticketTag((await holder.get()).ticket)).toBe('t2');
    holder.invalidate(t1); // another request that carried t1 was refused after t2 came
    expect(ticketTag((await holder.get()).ticket)).toBe('t2');
    expect(asked).toBe(2);
  });

  it('an issuer given as its ticket endpoint URL is asked there, and the proof is bound to that URL without its query (htu)', async () => {
    const asked: { url: string; htu: unknown }[] = [];
    const holder = createTicketHolder({
      issuer: 'https://edge.test/tickets/new?v=1',
      key,
      now: () => T,
      fetch: async (input: string, init?: RequestInit) => {
        const proof = (init?.headers as Record<string, string>)['client-ip-attestation']!;
        asked.push({ url: input, htu: (JSON.parse(Buffer.from(proof.split('.')[1]!, 'base64url').toString('utf8')) as { htu: unknown }).htu });
        return issued('t');
      },
    });
    await holder.get();
    expect(asked).toEqual([{ url: 'https://edge.test/tickets/new?v=1', htu: 'https://edge.test/tickets/new' }]);
  });
});

describe('the proof carries the public key and nothing else (PROTOCOL §7.1)', () => {
  it('a publicJwk with more members (kid, alg, even a private d by mistake) is sent as crv, kty, x, y only', async () => {
    const careless = { ...key.publicJwk, d: 'not-for-the-issuer', ext: true };
    const proof = await createTicketRequestProof(
      { privateKey: key.privateKey, publicJwk: careless, alg: 'ES256' },
      `${ISSUER}/.well-known/ipstamp/ticket`,
      () => T,
    );
    const header = JSON.parse(Buffer.from(proof.split('.')[0]!, 'base64url').toString('utf8')) as { jwk: Record<string, unknown> };
    expect(Object.keys(header.jwk).sort()).toEqual(['crv', 'kty', 'x', 'y']);
  });
});

describe('an issuer that cannot be reached', () => {
  it('is ERR_IPSTAMP_TICKET_FAILED (the code callers branch on), with the network error as cause', async () => {
    const down = new TypeError('fetch failed');
    const holder = createTicketHolder({
      issuer: ISSUER,
      key,
      now: () => T,
      fetch: () => Promise.reject(down),
    });
    await expect(holder.get()).rejects.toMatchObject({ code: 'ERR_IPSTAMP_TICKET_FAILED', cause: down });
  });
});
