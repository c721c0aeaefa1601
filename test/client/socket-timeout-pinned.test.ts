import { describe, expect, it, vi } from 'vitest';

// A target whose SYN goes unanswered (a firewall that drops) leaves connect() pending for
// minutes. A real one cannot be staged reliably here, so node:net's connect is replaced by a
// socket that never connects; everything else of node:net stays real.
vi.mock('node:net', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:net')>();
  // imported here: vi.mock is hoisted above the file's own imports
  const { EventEmitter } = await import('node:events');
  class NeverConnects extends EventEmitter {
    destroyed = false;
    setTimeout(ms: number, onTimeout: () => void): this {
      const timer = setTimeout(onTimeout, ms);
      timer.unref();
      return this;
    }
    destroy(): this {
      this.destroyed = true;
      return this;
    }
  }
  return { ...real, connect: () => new NeverConnects() };
});

const { socketAddress } = await import('../../client/socket-address.node.js');

describe("ip: 'socket': a probe that never connects", () => {
  it(
    'is given up after timeoutMs with ERR_IPSTAMP_SOCKET_FAILED, not left pending (the request it was for would hang with it)',
    { timeout: 10_000 },
    async () => {
      const source = socketAddress({ host: '192.0.2.1', port: 443, timeoutMs: 5 });
      await expect(Promise.resolve(source.current())).rejects.toMatchObject({ code: 'ERR_IPSTAMP_SOCKET_FAILED' });
    },
  );
});
