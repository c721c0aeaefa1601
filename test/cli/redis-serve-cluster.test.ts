import { startCluster } from '../support/redis-topology.js';
import { describeFailover } from './redis-failover-suite.js';

// 3 primaries + 3 replicas, cluster-node-timeout 1000 (test/support/redis-topology.ts)
describeFailover('a Redis Cluster', startCluster);
