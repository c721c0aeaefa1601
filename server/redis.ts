/**
 * `ipstamp/redis`: a replay store shared by every instance behind a load balancer (single
 * Redis, Sentinel or Cluster through ioredis). Its own entry so that `ipstamp/server` never
 * loads ioredis; the store itself is stores/redis.ts, beside the memory store.
 */
export { RedisReplayStore, REDIS_CLIENT_OPTIONS, type IoRedisClient, type RedisReplayStoreOptions } from './stores/redis.js';
