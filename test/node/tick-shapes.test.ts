import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { makeKey } from '../support/keys.js';

// Each case loads the module afresh: what it keeps is process state, set once per module instance.
type TickShapes = typeof import('../../server/runtime/tick-shapes.js');
const freshTickShapes = (): Promise<TickShapes> => import('../../server/runtime/tick-shapes.js');

/** The descriptions of an object's own symbol keys: a Node tick object's are its async ids. */
function symbolNames(value: unknown): string[] {
  return typeof value === 'object' && value !== null ? Object.getOwnPropertySymbols(value).map((s) => s.description ?? '') : [];
}

describe('keepTickObjectShapes (server/runtime/tick-shapes.ts)', () => {
  beforeEach(() => {
    vi.resetModules();
  });

  it("keeps one of process.nextTick's own tick objects: the object whose hidden classes must stay alive", async () => {
    const { keepTickObjectShapes, keptTickObject } = await freshTickShapes();
    expect(keptTickObject()).toBeUndefined();
    keepTickObjectShapes();
    expect(keptTickObject()).toBeNull();
    await nextMacrotask();
    // what the fix rests on: in a nextTick callback, executionAsyncResource() is the tick object
    // Node built with its computed symbol keys. If a Node release changes that, this fails.
    expect(symbolNames(keptTickObject())).toEqual(expect.arrayContaining(['async_id_symbol', 'trigger_async_id_symbol']));
  });

  it('keeps the tick object of its own nextTick, not the resource of whoever called it', async () => {
    const { keepTickObjectShapes, keptTickObject } = await freshTickShapes();
    // called from an Immediate's callback: that Immediate is the caller's resource
    await new Promise<void>((done) =>
      setImmediate(() => {
        keepTickObjectShapes();
        done();
      }),
    );
    await nextMacrotask();
    // a tick object's own string keys are its callback and its arguments
    expect(Object.keys(keptTickObject() ?? {})).toEqual(['callback', 'args']);
  });

  it('is idempotent: later calls keep the first tick object and schedule nothing', async () => {
    const { keepTickObjectShapes, keptTickObject } = await freshTickShapes();
    keepTickObjectShapes();
    await nextMacrotask();
    const first = keptTickObject();
    const nextTick = vi.spyOn(process, 'nextTick');
    try {
      keepTickObjectShapes();
      keepTickObjectShapes();
      expect(nextTick).not.toHaveBeenCalled();
    } finally {
      nextTick.mockRestore();
    }
    await nextMacrotask();
    expect(keptTickObject()).toBe(first);
  });

  it('survives a runtime whose executionAsyncResource throws: nothing is kept and nothing is thrown', async () => {
    vi.doMock('node:async_hooks', async (original) => ({
      ...(await original<typeof import('node:async_hooks')>()),
      executionAsyncResource: () => {
        throw new Error('not here');
      },
    }));
    try {
      const { keepTickObjectShapes, keptTickObject } = await freshTickShapes();
      keepTickObjectShapes();
      await nextMacrotask();
      expect(keptTickObject()).toBeNull();
    } finally {
      vi.doUnmock('node:async_hooks');
    }
  });
});

describe('every Node adapter keeps the tick object when it is set up', () => {
  beforeEach(() => {
    vi.resetModules();
  });

  it('the Fastify plugin, at registration', async () => {
    const key = await makeKey('HS256');
    const { keptTickObject } = await freshTickShapes();
    const { default: Fastify } = await import('fastify');
    const { ipstamp } = await import('../../server/fastify/index.js');
    const app = Fastify();
    try {
      await app.register(ipstamp, { keys: { keys: [key.publicJwk] } });
      await app.ready();
      await nextMacrotask();
      expect(symbolNames(keptTickObject())).toContain('async_id_symbol');
    } finally {
      await app.close();
    }
  });

  // both are factories over the verifier's options: making one is setting it up
  const middlewareFactories = {
    'the node:http / Express middleware': async () => (await import('../../server/node/index.js')).ipstamp,
    'the Hono middleware on Node': async () => (await import('../../server/hono/index.js')).ipstamp,
  };
  it.each(Object.entries(middlewareFactories))('%s, when made', async (_name, factoryOf) => {
    const key = await makeKey('HS256');
    const { keptTickObject } = await freshTickShapes();
    const ipstamp = await factoryOf();
    ipstamp({ keys: { keys: [key.publicJwk] } });
    await nextMacrotask();
    expect(symbolNames(keptTickObject())).toContain('async_id_symbol');
  });
});
