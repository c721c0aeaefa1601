import { configDefaults, defineConfig } from 'vitest/config';

// Files whose outcome depends on how busy the machine is: the Redis stores answer within 200 ms
// deadlines, and Chromium, workerd, Bun and Deno take seconds to start. They run on their own,
// one file at a time, after everything else.
const alone = ['stores/redis*.test.ts', 'cli/redis-serve*.test.ts', 'browser/**/*.test.ts', 'runtimes/**/*.test.ts'];

// Vitest's default on this 2-core machine is one worker. Most files wait on child processes
// and sockets, so two workers take the rest in about two thirds of the time (the Node 22 and
// 24 runs of .ci/run have used two since 2026-12-05); the whole CI must stay under 20 minutes.
export default defineConfig({
  test: {
    dir: 'test',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'shared-cores',
          exclude: [...configDefaults.exclude, ...alone],
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: { name: 'alone', include: alone, maxWorkers: 1, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
