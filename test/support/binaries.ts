import { execFileSync } from 'node:child_process';

/**
 * Real components (haproxy, nginx, redis-server, chromium) are installed by `.ci/run`.
 * Locally a missing binary skips its tests loudly; under CI=true it fails them instead,
 * so a missing install step can never turn into a green run that tested nothing.
 */
export function findBinary(name: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

export const isCI = process.env.CI === 'true';

/** Returns the path, or undefined (after a loud warning) when tests may skip. Throws under CI. */
export function requireBinary(name: string): string | undefined {
  const path = findBinary(name);
  if (path) return path;
  const message = `${name} is not installed: the tests that need it cannot run (install it, or run .ci/run)`;
  if (isCI) throw new Error(`CI=true and ${message}`);
  console.warn(`\n!!! SKIPPING: ${message}\n`);
  return undefined;
}
