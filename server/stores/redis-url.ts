/**
 * Where a replay store's Redis is, as one URL (what `serve --replay-store` takes); pure, the
 * ioredis client is made in redis.ts:
 *
 * - `redis://[USER:PASS@]HOST:PORT[/DB]` (`rediss://` for TLS): one Redis;
 * - `redis+sentinel://[USER:PASS@]HOST:PORT,HOST:PORT/NAME[/DB]`: the primary the sentinels
 *   call NAME, found again after every failover (port default 26379);
 * - `redis+cluster://[USER:PASS@]HOST:PORT,HOST:PORT`: a Redis Cluster, any of its nodes
 *   as seeds (port default 6379).
 *
 * The credentials are the data nodes'; sentinels are asked without them. `rediss+…` asks for
 * TLS everywhere.
 */
export type RedisLocation =
  | { readonly kind: 'single'; readonly url: string; readonly tls: boolean }
  | {
      readonly kind: 'sentinel';
      readonly sentinels: readonly RedisNode[];
      readonly name: string;
      readonly db: number;
      readonly auth: RedisAuth;
      readonly tls: boolean;
    }
  | { readonly kind: 'cluster'; readonly nodes: readonly RedisNode[]; readonly auth: RedisAuth; readonly tls: boolean };

export interface RedisNode {
  readonly host: string;
  readonly port: number;
}

export interface RedisAuth {
  readonly username?: string;
  readonly password?: string;
}

/** Every spelling, for error messages (never the URL itself: it may carry a password). */
export const REDIS_URL_FORMS = 'redis://HOST:PORT[/DB], redis+sentinel://HOST:PORT,HOST:PORT/NAME[/DB] or redis+cluster://HOST:PORT,HOST:PORT';

const MULTI = /^(rediss?)\+(sentinel|cluster):\/\/(?:([^@/]*)@)?([^/?#@]+)(\/[^?#]*)?$/;
const HOST_PORT = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+))(?::(\d{1,5}))?$/;
const SENTINEL_NAME = /^[A-Za-z0-9._-]{1,128}$/;

/** Parses a replay store's Redis URL; a wrong one is a TypeError that never repeats the URL. */
export function parseRedisUrl(url: string): RedisLocation {
  if (typeof url !== 'string') throw new TypeError(`Redis URL must be a string: ${REDIS_URL_FORMS}`);
  if (/^rediss?:\/\//.test(url)) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new TypeError('Redis URL must look like redis://HOST:PORT[/DB]');
    }
    if (parsed.hostname === '' || !/^\/?\d*$/.test(parsed.pathname)) throw new TypeError('Redis URL must look like redis://HOST:PORT[/DB]');
    return { kind: 'single', url, tls: parsed.protocol === 'rediss:' };
  }
  const m = MULTI.exec(url);
  if (!m) throw new TypeError(`Redis URL must look like ${REDIS_URL_FORMS}`);
  const [, scheme, kind, userinfo, hostList, path = ''] = m as unknown as [
    string,
    string,
    'sentinel' | 'cluster',
    string | undefined,
    string,
    string | undefined,
  ];
  const nodes = hostList.split(',').map((item) => node(item, kind === 'sentinel' ? 26379 : 6379));
  const auth = credentials(userinfo);
  const tls = scheme === 'rediss';
  if (kind === 'cluster') {
    if (path !== '' && path !== '/') throw new TypeError('a redis+cluster:// URL has no path: a Cluster has only database 0');
    return { kind, nodes, auth, tls };
  }
  const [, name = '', db = '0', ...rest] = path.split('/');
  if (!SENTINEL_NAME.test(name) || !/^\d{1,5}$/.test(db) || rest.length > 0) {
    throw new TypeError('a redis+sentinel:// URL must end in /NAME or /NAME/DB (the name the sentinels monitor)');
  }
  return { kind, sentinels: nodes, name, db: Number(db), auth, tls };
}

/** For a start line: the hosts and the name, never the credentials. */
export function describeRedisLocation(location: RedisLocation): string {
  if (location.kind === 'single') {
    const parsed = new URL(location.url);
    return `redis ${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`;
  }
  const hosts = (nodes: readonly RedisNode[]) => nodes.map((n) => `${n.host.includes(':') ? `[${n.host}]` : n.host}:${n.port}`).join(',');
  if (location.kind === 'cluster') return `redis cluster ${hosts(location.nodes)}`;
  return `redis sentinel ${hosts(location.sentinels)}/${location.name}${location.db === 0 ? '' : `/${location.db}`}`;
}

function node(item: string, defaultPort: number): RedisNode {
  const m = HOST_PORT.exec(item);
  const port = m?.[3] === undefined ? defaultPort : Number(m[3]);
  if (!m || !(port >= 1 && port <= 65_535)) throw new TypeError('each Redis node must be HOST:PORT (an IPv6 address in brackets)');
  return { host: (m[1] ?? m[2])!, port };
}

function credentials(userinfo: string | undefined): RedisAuth {
  if (userinfo === undefined || userinfo === '') return {};
  const colon = userinfo.indexOf(':');
  const decode = (text: string): string => {
    try {
      return decodeURIComponent(text);
    } catch {
      throw new TypeError('Redis URL credentials must be percent-encoded');
    }
  };
  if (colon < 0) return { username: decode(userinfo) };
  const username = decode(userinfo.slice(0, colon));
  return { ...(username === '' ? {} : { username }), password: decode(userinfo.slice(colon + 1)) };
}
