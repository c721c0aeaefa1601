import { expect } from 'vitest';
import { UsageError } from '../../server/cli/usage-error.js';

/** The message of the UsageError `load` throws (the CLI's exit-2 error); fails the test if it loads. */
export function usageError(load: () => unknown): string {
  try {
    load();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error('loaded without a UsageError');
}
