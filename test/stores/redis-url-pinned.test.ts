import { describe, expect, it } from 'vitest';
import { describeRedisLocation, parseRedisUrl } from '../../server/stores/redis-url.js';

/**
 * Edges of the replay store's URL that redis-url.test.ts leaves open: each is a URL an operator
 * can type into `--replay-store`, where a wrong reading either points the store at another
 * Redis than the one meant, or refuses a URL the docs allow.
 */
describe('parseRedisUrl: the edges of each spelling', () => {
  it('refuses a single-Redis URL without a host, rather than letting ioredis fall back to localhost', () => {
    // new URL() accepts both (an empty host is legal in a non-special scheme); ioredis would
    // then connect to 127.0.0.1:6379, a Redis the operator never named.
    for (const url of ['redis:///0', 'redis://']) {
      expect(() => parseRedisUrl(url), url).toThrow(/must look like redis:\/\/HOST:PORT/);
    }
  });

  it('takes the highest port, 65535, in every node list', () => {
    expect(parseRedisUrl('redis+cluster://h:65535')).toMatchObject({ nodes: [{ host: 'h', port: 65_535 }] });
    expect(parseRedisUrl('redis+sentinel://h:65535/main')).toMatchObject({ sentinels: [{ host: 'h', port: 65_535 }] });
  });

  it('takes a Cluster URL with a bare trailing slash (a path of "/" is still database 0)', () => {
    expect(parseRedisUrl('redis+cluster://h:7000/')).toEqual({ kind: 'cluster', nodes: [{ host: 'h', port: 7000 }], auth: {}, tls: false });
  });

  it('refuses a Sentinel URL whose database segment is empty, instead of reading it as database 0', () => {
    // "/main/" is a typo for "/main/N" as often as for "/main": the operator says which.
    expect(() => parseRedisUrl('redis+sentinel://h:1/main/')).toThrow(/\/NAME/);
  });
});

describe('describeRedisLocation: the start line', () => {
  it('prints a single Redis with a trailing slash the same as without one (database 0 either way)', () => {
    expect(describeRedisLocation(parseRedisUrl('redis://10.0.0.5:6379/'))).toBe('redis 10.0.0.5:6379');
    expect(describeRedisLocation(parseRedisUrl('redis://10.0.0.5:6379'))).toBe('redis 10.0.0.5:6379');
  });
});
