import type { Attack, AttackReport, AttackResult, AttackSummary } from './types.js';
import { describeExpectation } from './judge.js';

export const VERDICT_LABEL: Readonly<Record<AttackResult['verdict'], string>> = {
  pass: 'PASS',
  warn: 'WARN',
  fail: 'FAIL',
  skip: 'SKIP',
  error: 'ERROR',
};

export interface Columns {
  readonly name: number;
  readonly must: number;
  readonly got: number;
}

/** Widths known before the run, so lines can be printed as results arrive and still line up. */
export function columnsFor(attacks: readonly Pick<Attack, 'name' | 'expect'>[], got = 34): Columns {
  return {
    name: Math.max(6, ...attacks.map((a) => a.name.length)),
    must: Math.max(20, ...attacks.map((a) => describeExpectation(a.expect).length)),
    got,
  };
}

export function formatHeaderLine(columns: Columns): string {
  return `  ${'ATTACK'.padEnd(columns.name)}  ${'A SAFE VERIFIER MUST'.padEnd(columns.must)}  ${'GOT'.padEnd(columns.got)}  RESULT`;
}

/** One line per attack — name, what a safe verifier must do, what came back, the verdict — and its note beneath. */
export function formatResultLine(result: AttackResult, columns: Columns): string {
  const line = `  ${result.name.padEnd(columns.name)}  ${result.must.padEnd(columns.must)}  ${result.got.padEnd(columns.got)}  ${VERDICT_LABEL[result.verdict]}`;
  return result.note !== undefined && result.verdict !== 'pass' ? `${line}\n  ${' '.repeat(columns.name)}  ↳ ${result.note}` : line;
}

export function formatSummary(summary: AttackSummary): string {
  const parts = [`${summary.passed} passed`];
  if (summary.warnings > 0) parts.push(`${summary.warnings} warning${summary.warnings === 1 ? '' : 's'}`);
  parts.push(`${summary.failed} failed`);
  if (summary.skipped > 0) parts.push(`${summary.skipped} not applicable`);
  if (summary.errors > 0) parts.push(`${summary.errors} could not run`);
  return `${summary.total} attacks: ${parts.join(', ')}`;
}

export function formatIntro(report: Pick<AttackReport, 'target' | 'ip' | 'ipSource' | 'kid' | 'alg' | 'ticketIssuer'> & { method?: string }): string {
  const from = report.ipSource === 'echo' ? "the target's echo" : 'given';
  const tickets = report.ticketIssuer === undefined ? '' : `\n  tickets from ${report.ticketIssuer}`;
  const method = report.method === undefined || report.method === 'GET' ? '' : `${report.method} `;
  return `ipstamp attack  ${method}${report.target}\n  as ${report.ip} (${from}), key ${report.kid} (${report.alg})${tickets}`;
}

/** The verdict in one sentence (and, when INCONCLUSIVE, why, one line each). */
export function formatVerdict(report: Pick<AttackReport, 'verdict' | 'inconclusive' | 'ticketRequests'>): string {
  const budget = report.ticketRequests;
  const plan =
    budget === undefined
      ? ''
      : `\nticket requests: ${budget.sent} sent of ${budget.needed} needed${budget.limit === undefined ? '' : `; the issuer allows ${budget.limit} per window`}`;
  switch (report.verdict) {
    case 'SAFE':
      return `SAFE: every attack was rejected and every legitimate request accepted${plan}`;
    case 'UNSAFE':
      return `UNSAFE: an attack was accepted while the legitimate requests of its kind were; see the FAIL lines above${plan}`;
    case 'INCONCLUSIVE':
      return `INCONCLUSIVE: the run cannot tell whether the target is safe:\n${report.inconclusive.map((r) => `  - ${r}`).join('\n')}${plan}`;
  }
}

/** The closing lines: summary, what failed by name, notes, and the verdict. */
export function formatOutro(report: AttackReport): string {
  const lines = ['', formatSummary(report.summary)];
  // refusals of legitimate requests and attacks that could not run are the verdict's to explain
  const through = report.results.filter((r) => r.verdict === 'fail' && r.legitimateRefused !== true);
  if (through.length > 0) lines.push(`got through: ${through.map((r) => r.name).join(', ')}`);
  for (const note of report.notes) lines.push(`note: ${note}`);
  lines.push(formatVerdict(report));
  return lines.join('\n');
}

/** The whole report as text, as the CLI prints it. */
export function formatReportText(report: AttackReport): string {
  const columns = columnsFor(report.results);
  return [formatIntro(report), '', formatHeaderLine(columns), ...report.results.map((r) => formatResultLine(r, columns)), formatOutro(report)].join('\n');
}
