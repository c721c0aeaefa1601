import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SERVICE_REASON_STATUS, SERVICE_REASONS } from '../../shared/index.js';
import { CLIENT_CLAIMS, METHOD_OVERRIDES, TARGET_OVERRIDES } from '../../server/cli/forwarded-headers.js';
import { usage } from '../../server/cli/commands/gateway.js';

/**
 * `ipstamp gateway --help` and docs/cli.md name what the code does: every header the gateway
 * strips by name, and every service reason it may answer with. A name added to the code and not
 * to the lists (or the other way round) fails here.
 */

const docs = readFileSync(resolve(import.meta.dirname, '../../docs/cli.md'), 'utf8');
const errors = readFileSync(resolve(import.meta.dirname, '../../docs/errors.md'), 'utf8');
const gatewaySection = docs.slice(docs.indexOf('## `ipstamp gateway`'), docs.indexOf('## `ipstamp keygen`'));

/** `name` as a whole header name (not inside a longer one), any case. */
function names(text: string, name: string): boolean {
  return new RegExp(`(?<![A-Za-z0-9-])${name.replaceAll('-', '\\-')}(?![A-Za-z0-9-])`, 'i').test(text);
}

describe('the gateway lists what it strips and how it refuses, as the code does', () => {
  it.each([...CLIENT_CLAIMS, ...TARGET_OVERRIDES, ...METHOD_OVERRIDES])('%s: in gateway --help and in docs/cli.md', (name) => {
    expect(names(usage, name)).toBe(true);
    expect(names(gatewaySection, name)).toBe(true);
  });

  it.each(SERVICE_REASONS)('%s: in gateway --help, in docs/cli.md with its status, its status in docs/errors.md', (reason) => {
    expect(usage).toContain(reason);
    expect(docs).toContain(`\`${SERVICE_REASON_STATUS[reason]} ${reason}\``);
    expect(errors).toContain(`\`${SERVICE_REASON_STATUS[reason]}`);
  });
});
