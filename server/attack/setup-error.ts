/** Why a run could not start (the CLI's exit 2): the messages are fixed and never echo key material. */
export type AttackSetupProblem = 'target-unreachable' | 'key-unusable' | 'bad-target' | 'no-address' | 'no-issuer';

const MESSAGES: Readonly<Record<AttackSetupProblem, string>> = {
  'target-unreachable': 'the target cannot be reached',
  'key-unusable': 'the key is not a usable private JWK (or oct) with kid and alg',
  'bad-target': 'the target must be an absolute http:// or https:// URL',
  'no-address': 'the target did not say which address it sees for us (GET /.well-known/ipstamp); pass --ip',
  'no-issuer': 'without a client key only the ticket attacks can run, and the target issues no tickets; pass --key, or --issuer URL',
};

export class AttackSetupError extends Error {
  override readonly name = 'AttackSetupError';
  readonly problem: AttackSetupProblem;
  readonly code: string;

  constructor(problem: AttackSetupProblem, detail?: string, options?: { cause?: unknown }) {
    super(detail === undefined ? MESSAGES[problem] : `${MESSAGES[problem]} (${detail})`, options);
    this.problem = problem;
    this.code = `ERR_IPSTAMP_ATTACK_${problem.toUpperCase().replace(/-/g, '_')}`;
  }
}
