import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeRedisLocation, parseRedisUrl } from '../../server/stores/redis-url.js';

describe('parseRedisUrl: where a replay store finds its Redis', () => {
  it('reads the three spellings, with default ports, credentials, name and database', () => {
    expect(parseRedisUrl('redis://127.0.0.1:6380/2')).toEqual({ kind: 'single', url: 'redis://127.0.0.1:6380/2', tls: false });
    expect(parseRedisUrl('rediss://cache.internal')).toMatchObject({ kind: 'single', tls: true });
    expect(parseRedisUrl('redis+cluster://10.0.0.1:7000,10.0.0.2,[::1]:7002')).toEqual({
      kind: 'cluster',
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 6379 },
        { host: '::1', port: 7002 },
      ],
      auth: {},
      tls: false,
    });
    expect(parseRedisUrl('rediss+sentinel://app:p%40ss@s1:26380,s2/main/3')).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: 's1', port: 26380 },
        { host: 's2', port: 26379 },
      ],
      name: 'main',
      db: 3,
      auth: { username: 'app', password: 'p@ss' },
      tls: true,
    });
    expect(parseRedisUrl('redis+sentinel://:secret@s1/main')).toMatchObject({ auth: { password: 'secret' }, db: 0 });
  });

  it('labels a location for the start line without its credentials', () => {
    expect(describeRedisLocation(parseRedisUrl('redis+sentinel://u:s3cret@s1:1,s2:2/main'))).toBe('redis sentinel s1:1,s2:2/main');
    expect(describeRedisLocation(parseRedisUrl('redis+cluster://u:s3cret@[::1]:7000,h:7001'))).toBe('redis cluster [::1]:7000,h:7001');
    expect(describeRedisLocation(parseRedisUrl('redis://u:s3cret@h:1/4'))).toBe('redis h:1/4');
  });

  const refused: [string, RegExp][] = [
    ['redis+cluster://h:1/0', /no path/],
    ['redis+sentinel://h:1', /\/NAME/],
    ['redis+sentinel://h:1/na me', /must look like|\/NAME/],
    ['redis+sentinel://h:1/main/x', /\/NAME/],
    ['redis+sentinel://h:1/main/1/2', /\/NAME/],
    ['redis+cluster://h:0', /HOST:PORT/],
    ['redis+cluster://h:65536', /HOST:PORT/],
    ['redis+cluster://h:1,,h:2', /HOST:PORT/],
    ['redis+cluster://u:%ZZ@h:1', /percent-encoded/],
    ['redis+memcached://h:1', /must look like/],
    ['redis://h:1/x', /must look like/],
    ['http://h:1', /must look like/],
  ];
  for (const [url, message] of refused) {
    it(`refuses ${url}`, () => expect(() => parseRedisUrl(url)).toThrow(message));
  }

  it('never throws anything but a TypeError, and never repeats a password (property)', () => {
    const scheme = fc.constantFrom('redis://', 'rediss://', 'redis+cluster://', 'rediss+sentinel://', 'redis+sentinel://', 'redis+x://', '');
    fc.assert(
      fc.property(scheme, fc.string({ maxLength: 60 }), (start, rest) => {
        const url = `${start}user:s3cr3tpw@${rest}`;
        try {
          parseRedisUrl(url);
        } catch (error) {
          expect(error).toBeInstanceOf(TypeError);
          expect((error as Error).message).not.toContain('s3cr3tpw');
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('reads back every node list it could have been given (property)', () => {
    const host = fc.oneof(
      fc.domain(),
      fc.ipV4(),
      fc.ipV6().map((ip) => `[${ip}]`),
    );
    const hostPort = fc.record({ host, port: fc.integer({ min: 1, max: 65_535 }) });
    fc.assert(
      fc.property(fc.array(hostPort, { minLength: 1, maxLength: 6 }), fc.constantFrom('cluster', 'sentinel'), (nodes, kind) => {
        const list = nodes.map((n) => `${n.host}:${n.port}`).join(',');
        const location = parseRedisUrl(`redis+${kind}://${list}${kind === 'sentinel' ? '/main' : ''}`);
        const read = location.kind === 'cluster' ? location.nodes : location.kind === 'sentinel' ? location.sentinels : [];
        expect(read).toEqual(nodes.map((n) => ({ host: n.host.replace(/^\[|\]$/g, ''), port: n.port })));
      }),
      { numRuns: 500 },
    );
  });
});
