import type { Attack } from './catalog/types.js';
import { describeExpectation } from './judge.js';
import type { AttackReport, AttackResult, AttackRunInfo, AttackSummary } from './results.js';

/** A run's report for people: text (printed line by line as results arrive) and Markdown. */

const VERDICT_LABEL: Readonly<Record<AttackResult['verdict'], string>> = {
  pass: 'PASS',
  warn: 'WARN',
  fail: 'FAIL',
  skip: 'SKIP',
  error: 'ERROR',
};

interface Columns {
  readonly name: number;
  readonly must: number;
  readonly got: number;
}

/** Widths known before the run, so lines can be printed as results arrive and still line up. */
function columnsFor(attacks: readonly Pick<Attack, 'name' | 'expect'>[], got = 34): Columns {
  return {
    name: Math.max(6, ...attacks.map((a) => a.name.length)),
    must: Math.max(20, ...attacks.map((a) => describeExpectation(a.expect).length)),
    got,
  };
}

function formatHeaderLine(columns: Columns): string {
  return `  ${'ATTACK'.padEnd(columns.name)}  ${'A SAFE VERIFIER MUST'.padEnd(columns.must)}  ${'GOT'.padEnd(columns.got)}  RESULT`;
}

/** One line per attack — name, what a safe verifier must do, what came back, the verdict — and its note beneath. */
function formatResultLine(result: AttackResult, columns: Columns): string {
  const line = `  ${result.name.padEnd(columns.name)}  ${result.must.padEnd(columns.must)}  ${result.got.padEnd(columns.got)}  ${VERDICT_LABEL[result.verdict]}`;
  return result.note !== undefined && result.verdict !== 'pass' ? `${line}\n  ${' '.repeat(columns.name)}  ↳ ${result.note}` : line;
}

function formatSummary(summary: AttackSummary): string {
  const parts = [`${summary.passed} passed`];
  if (summary.warnings > 0) parts.push(`${summary.warnings} warning${summary.warnings === 1 ? '' : 's'}`);
  parts.push(`${summary.failed} failed`);
  if (summary.skipped > 0) parts.push(`${summary.skipped} not applicable`);
  if (summary.errors > 0) parts.push(`${summary.errors} could not run`);
  return `${summary.total} attacks: ${parts.join(', ')}`;
}

function formatIntro(report: AttackRunInfo): string {
  const from = report.ipSource === 'echo' ? "the target's echo" : 'given';
  const tickets = report.ticketIssuer === undefined ? '' : `\n  tickets from ${report.ticketIssuer}`;
  const method = report.method === undefined || report.method === 'GET' ? '' : `${report.method} `;
  return `ipstamp attack  ${method}${report.target}\n  as ${report.ip} (${from}), key ${report.kid} (${report.alg})${tickets}`;
}

/** The verdict in one sentence (and, when INCONCLUSIVE, why, one line each). */
function formatVerdict(report: Pick<AttackReport, 'verdict' | 'inconclusive' | 'ticketRequests'>): string {
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
function formatOutro(report: AttackReport): string {
  const lines = ['', formatSummary(report.summary)];
  // refusals of legitimate requests and attacks that could not run are the verdict's to explain
  const through = report.results.filter((r) => r.verdict === 'fail' && r.legitimateRefused !== true);
  if (through.length > 0) lines.push(`got through: ${through.map((r) => r.name).join(', ')}`);
  for (const note of report.notes) lines.push(`note: ${note}`);
  lines.push(formatVerdict(report));
  return lines.join('\n');
}

/**
 * The text report in the parts a run prints as it goes: the `intro` once the address is
 * known, the column `header`, a `line` per result, and the `outro`. Columns are sized from
 * the attacks before the run, so lines printed as results arrive still line up.
 */
export interface TextReport {
  intro(info: AttackRunInfo): string;
  header(): string;
  line(result: AttackResult): string;
  outro(report: AttackReport): string;
}

export function createTextReport(attacks: readonly Pick<Attack, 'name' | 'expect'>[]): TextReport {
  const columns = columnsFor(attacks);
  return {
    intro: formatIntro,
    header: () => formatHeaderLine(columns),
    line: (result) => formatResultLine(result, columns),
    outro: formatOutro,
  };
}

/** The whole report as text, as the CLI prints it. */
export function formatReportText(report: AttackReport): string {
  const text = createTextReport(report.results);
  return [text.intro(report), '', text.header(), ...report.results.map(text.line), text.outro(report)].join('\n');
}

/** Table cells cannot hold a pipe or a newline. */
const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

/** The report as a Markdown document (`ipstamp attack --report FILE.md`). */
export function formatReportMarkdown(report: AttackReport): string {
  const verdict =
    report.verdict === 'SAFE'
      ? '**SAFE** — every attack was rejected and every legitimate request accepted.'
      : report.verdict === 'UNSAFE'
        ? '**UNSAFE** — at least one attack was accepted while the legitimate requests of its kind were.'
        : '**INCONCLUSIVE** — the run cannot tell whether the target is safe:';
  const budget = report.ticketRequests;
  const lines = [
    '# ipstamp attack report',
    '',
    `| | |`,
    `|---|---|`,
    `| target | \`${cell(report.target)}\` |`,
    `| address the target sees for the harness | \`${report.ip}\` (${report.ipSource === 'echo' ? 'from its /.well-known/ipstamp' : 'given with --ip'}) |`,
    `| client key | \`${cell(report.kid)}\` (${report.alg}) |`,
    `| method | ${report.method} |`,
    ...(report.ticketIssuer === undefined ? [] : [`| ticket issuer | \`${cell(report.ticketIssuer)}\` |`]),
    ...(budget === undefined
      ? []
      : [
          `| ticket requests | ${budget.sent} sent of ${budget.needed} needed${budget.limit === undefined ? '' : `; the issuer allows ${budget.limit} per window`} |`,
        ]),
    `| started | ${report.startedAt} |`,
    `| duration | ${report.ms} ms |`,
    '',
    verdict,
    '',
    ...(report.verdict === 'INCONCLUSIVE' ? [...report.inconclusive.map((r) => `- ${cell(r)}`), ''] : []),
    formatSummary(report.summary) + '.',
    '',
  ];
  if (report.notes.length > 0) {
    lines.push('## Read this first', '');
    for (const note of report.notes) lines.push(`- ${cell(note)}`);
    lines.push('');
  }
  lines.push('## Results', '', '| attack | what it tries | a safe verifier must | got | result |', '|---|---|---|---|---|');
  for (const r of report.results) {
    const label = r.verdict === 'pass' || r.verdict === 'skip' ? VERDICT_LABEL[r.verdict] : `**${VERDICT_LABEL[r.verdict]}**`;
    lines.push(`| \`${r.name}\` | ${cell(r.description)} | ${cell(r.must)} | ${cell(r.got)} | ${label} |`);
  }
  const explained = report.results.filter((r) => r.verdict !== 'pass' && r.note !== undefined);
  if (explained.length > 0) {
    lines.push('', '## Details', '');
    for (const r of explained) lines.push(`- \`${r.name}\` (${VERDICT_LABEL[r.verdict]}): ${cell(r.note!)}`);
  }
  lines.push(
    '',
    'A rejection is any 4xx/5xx answer or a closed connection. A rejection for another reason than PROTOCOL.md §5 predicts is a warning, not a failure. Made by `ipstamp attack`.',
    '',
  );
  return lines.join('\n');
}
