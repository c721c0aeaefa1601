import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PROBLEM_CONTENT_TYPE, problemOf, SERVICE_REASON_STATUS, serviceProblemOf } from '../../shared/problem.js';
import { isReason, REASON_STATUS, REASON_TITLES, REASONS } from '../../shared/reasons.js';
import { isServiceReason, SERVICE_REASON_TITLES, SERVICE_REASONS } from '../../shared/service-reasons.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const cliDoc = readFileSync(join(root, 'docs/cli.md'), 'utf8');

/** The refusal bodies (RFC 9457) every adapter and the CLI send: fixed members, fixed strings. */
describe('problem+json bodies', () => {
  it('is served as application/problem+json', () => {
    expect(PROBLEM_CONTENT_TYPE).toBe('application/problem+json');
  });

  it('a wire reason: exactly type, title, status and reason, the status of PROTOCOL §5', () => {
    for (const reason of REASONS) {
      expect(problemOf(reason)).toStrictEqual({ type: `urn:ipstamp:${reason}`, title: REASON_TITLES[reason], status: REASON_STATUS[reason], reason });
    }
  });

  it('a service reason: the same four members, with the status docs/cli.md lists', () => {
    // every one listed, with its status, where `ipstamp serve` documents them
    for (const reason of SERVICE_REASONS) {
      const body = serviceProblemOf(reason);
      expect(body).toStrictEqual({ type: `urn:ipstamp:${reason}`, title: SERVICE_REASON_TITLES[reason], status: SERVICE_REASON_STATUS[reason], reason });
      expect(cliDoc, reason).toContain(`\`${body.status} ${reason}\``);
    }
    expect(Object.keys(SERVICE_REASON_STATUS).sort()).toEqual([...SERVICE_REASONS].sort());
    expect(Object.keys(SERVICE_REASON_TITLES).sort()).toEqual([...SERVICE_REASONS].sort());
  });
});

describe('isReason, isServiceReason', () => {
  it('know their own codes only: the two lists are apart, and nothing else is either', () => {
    for (const reason of REASONS) expect([isReason(reason), isServiceReason(reason)]).toEqual([true, false]);
    for (const reason of SERVICE_REASONS) expect([isReason(reason), isServiceReason(reason)]).toEqual([false, true]);
    for (const other of ['', 'Missing', 'replay ', 'toString', '__proto__', 'constructor', undefined, null, 401, ['replay'], { reason: 'replay' }]) {
      expect([isReason(other), isServiceReason(other)], JSON.stringify(other)).toEqual([false, false]);
    }
  });
});
