import { formatSummary, VERDICT_LABEL } from './report-text.js';
import type { AttackReport } from './types.js';

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
      : [`| ticket requests | ${budget.sent} sent of ${budget.needed} needed${budget.limit === undefined ? '' : `; the issuer allows ${budget.limit} per window`} |`]),
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
