import { startSentinels } from '../support/redis-topology.js';
import { describeFailover } from './redis-failover-suite.js';

// 1 primary + 1 replica + 3 sentinels, down-after-milliseconds 1000 (test/support/redis-topology.ts)
describeFailover('Redis Sentinel', (server) => startSentinels(server));
