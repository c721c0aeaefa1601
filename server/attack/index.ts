// The `ipstamp/attack` entry: the attack catalog (data), the runner, the reports. The harness
// speaks only the wire protocol and uses only the library's public entries (`ipstamp`,
// `ipstamp/client`); the CLI's `ipstamp attack` and `ipstamp demo` use only this entry.
export { runAttacks, type RunAttacksOptions } from './runner.js';
export { ATTACK_CATALOG, TICKET_ATTACK_CATALOG } from './catalog/index.js';
export {
  AttackSetupError,
  type AttackSetupProblem,
  type AttackReport,
  type AttackResult,
  type AttackRunInfo,
  type AttackSummary,
  type Outcome,
  type ResultVerdict,
  type RunVerdict,
  type TicketRequestBudget,
} from './results.js';
export { createTextReport, formatReportText, formatReportMarkdown, type TextReport } from './reports.js';
export { encodeProxyV1, encodeProxyV2, type ProxyEndpointSpec } from './catalog/proxy-header-bytes.js';
export { tokenTamper, type TokenTamper } from './catalog/forge.js';
export type { TicketBudget } from './ticket-budget.js';
export type {
  Attack,
  AttackContext,
  AttackPlan,
  AttackRequest,
  Expectation,
  ExpectedReason,
  HttpAttackRequest,
  HttpOptions,
  IssuedTicket,
  PublicKeyForms,
  RawAttackRequest,
  RawConnection,
  SignOptions,
  StampOptions,
  TicketAlg,
  TicketProofOptions,
  TicketPublicJwk,
  TicketRequestCost,
  TicketSigner,
  TicketSigningKey,
  TicketStampOptions,
  TicketTools,
} from './catalog/types.js';
