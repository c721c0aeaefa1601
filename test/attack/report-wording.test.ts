import { describe, expect, it } from 'vitest';
import { formatReportMarkdown, formatReportText, type AttackReport, type AttackResult } from '../../server/attack/index.js';

/** What a reader of the text and Markdown reports is told, for each verdict: never less alarming than the verdict itself. */

const result = (name: string, verdict: AttackResult['verdict'], got: string, extra: Partial<AttackResult> = {}): AttackResult => ({
  name,
  description: `${name} described`,
  expect: { reject: true, reason: 'replay' },
  must: 'reject 401 replay',
  got,
  verdict,
  outcomes: [],
  tags: [],
  ms: 1,
  ...extra,
});

function report(verdict: AttackReport['verdict'], results: AttackResult[], inconclusive: string[] = []): AttackReport {
  const count = (v: AttackResult['verdict']): number => results.filter((r) => r.verdict === v).length;
  return {
    target: 'http://127.0.0.1:8080/',
    ip: '127.0.0.1',
    ipSource: 'echo',
    kid: 'k1',
    alg: 'ES256',
    startedAt: '2026-01-01T00:00:00.000Z',
    ms: 10,
    method: 'GET',
    results,
    summary: { total: results.length, passed: count('pass'), warnings: count('warn'), failed: count('fail'), skipped: count('skip'), errors: count('error') },
    notes: [],
    verdict,
    inconclusive,
    exitCode: verdict === 'SAFE' ? 0 : verdict === 'UNSAFE' ? 1 : 2,
  };
}

const unsafe = report('UNSAFE', [
  result('replay-exact', 'fail', '200 accepted', { note: 'the target accepted it' }),
  result('expired', 'warn', '401 bad-claims', { note: 'rejected, but for another reason' }),
  result('stamp-missing', 'pass', '401 missing'),
]);

const inconclusive = report(
  'INCONCLUSIVE',
  [
    result('control-get', 'fail', '403 ip-mismatch', { expect: { accept: true }, must: 'accept 2xx', legitimateRefused: true }),
    result('stamp-missing', 'pass', '401 missing'),
  ],
  ['control-get: a legitimate request was refused — 403 ip-mismatch'],
);

describe('the text report', () => {
  it('UNSAFE: the accepted attack is labelled FAIL with its note, named under "got through", and the verdict says UNSAFE', () => {
    const text = formatReportText(unsafe);
    expect(text).toMatch(/^\s+replay-exact\s+reject 401 replay\s+200 accepted\s+FAIL\n\s+↳ the target accepted it$/m);
    expect(text).toMatch(/^\s+expired\s+.*WARN\n\s+↳ rejected, but for another reason$/m);
    expect(text).toMatch(/^3 attacks: 1 passed, 1 warning, 1 failed$/m);
    expect(text).toMatch(/^got through: replay-exact$/m);
    expect(text).toMatch(/^UNSAFE: an attack was accepted/m);
    expect(text).not.toMatch(/^SAFE/m);
  });

  it('INCONCLUSIVE: each reason listed under the verdict; a refused control is not said to have got through', () => {
    const text = formatReportText(inconclusive);
    expect(text).toMatch(
      /^INCONCLUSIVE: the run cannot tell whether the target is safe:\n {2}- control-get: a legitimate request was refused — 403 ip-mismatch$/m,
    );
    expect(text).not.toMatch(/got through/);
  });
});

describe('the Markdown report', () => {
  it('UNSAFE and INCONCLUSIVE are never shown as SAFE; INCONCLUSIVE lists its reasons', () => {
    const md = formatReportMarkdown(unsafe);
    expect(md).toMatch(/^\*\*UNSAFE\*\*/m);
    expect(md).toMatch(/\| `replay-exact` \| .* \| 200 accepted \| \*\*FAIL\*\* \|/);
    const other = formatReportMarkdown(inconclusive);
    expect(other).toMatch(
      /^\*\*INCONCLUSIVE\*\* — the run cannot tell whether the target is safe:\n\n- control-get: a legitimate request was refused — 403 ip-mismatch$/m,
    );
    for (const doc of [md, other]) expect(doc).not.toMatch(/\*\*SAFE\*\*/);
  });
});
