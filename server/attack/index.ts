export { runAttacks, type RunAttacksOptions } from './runner.js';
export { ATTACK_CATALOG, TICKET_ATTACK_CATALOG } from './catalog/index.js';
export { AttackSetupError, type AttackSetupProblem } from './setup-error.js';
export { formatReportText } from './report-text.js';
export { formatReportMarkdown } from './report-markdown.js';
export { encodeProxyV1, encodeProxyV2, type ProxyEndpointSpec } from './proxy-header-bytes.js';
export { tokenTamper, type TokenTamper } from './token-tamper.js';
export type { IssuedTicket, TicketTools, TicketSigner, TicketStampOptions, TicketProofOptions } from './ticket-tools.js';
export type { TicketSigningKey } from './ticket-keys.js';
export type { TicketBudget } from './ticket-budget.js';
export type {
  Attack,
  AttackContext,
  AttackPlan,
  AttackReport,
  AttackRequest,
  AttackResult,
  AttackSummary,
  Expectation,
  ExpectedReason,
  HttpAttackRequest,
  HttpOptions,
  Outcome,
  PublicKeyForms,
  RawAttackRequest,
  RawConnection,
  ResultVerdict,
  RunVerdict,
  SignOptions,
  StampOptions,
  TicketRequestBudget,
  TicketRequestCost,
} from './types.js';
