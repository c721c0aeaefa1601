import { describe, expect, it } from 'vitest';
import { openReplayStore } from '../../server/cli/replay-store-option.js';
import { UsageError } from '../../server/cli/usage-error.js';

describe('--replay-store and --store-replicas', () => {
  it('opens a Cluster or a Sentinel store, labelled without credentials, WAIT shown', async () => {
    const cluster = openReplayStore('redis+cluster://user:pw@127.0.0.1:1,127.0.0.1:2', { waitForReplicas: 1 });
    const sentinel = openReplayStore('redis+sentinel://127.0.0.1:3/main');
    try {
      expect(cluster.label).toBe('redis cluster 127.0.0.1:1,127.0.0.1:2 (WAIT 1)');
      expect(sentinel.label).toBe('redis sentinel 127.0.0.1:3/main');
    } finally {
      await Promise.all([cluster.store.close?.(), sentinel.store.close?.()]);
    }
  });

  it('refuses a bad topology URL or WAIT without Redis as a usage error that does not repeat the URL', () => {
    for (const spec of ['redis+cluster://pw:s3cret@h:1/0', 'redis+sentinel://pw:s3cret@h:1']) {
      expect(() => openReplayStore(spec)).toThrow(UsageError);
      expect(() => openReplayStore(spec)).not.toThrow(/s3cret/);
    }
    expect(() => openReplayStore('memory', { waitForReplicas: 1 })).toThrow(new UsageError('--store-replicas needs a Redis --replay-store'));
    expect(() => openReplayStore('redis://127.0.0.1:1', { waitForReplicas: 1.5 })).toThrow(/waitForReplicas/);
  });
});
