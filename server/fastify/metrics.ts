import { REASONS, type Reason } from '../../shared/reasons.js';
import type { Agreement } from '../verify/types.js';

const AGREEMENTS: readonly Agreement[] = ['match', 'mismatch', 'unverifiable'];

/** A snapshot of the plugin's counters since it was registered. */
export interface IpStampCounters {
  /** Stamps accepted, by agreement with the network. */
  readonly accepted: Readonly<Record<Agreement, number>>;
  /** Requests rejected, by reason. */
  readonly rejected: Readonly<Record<Reason, number>>;
  /** Requests without a stamp on routes where it is optional. */
  readonly unstamped: number;
  /** Stamps let through without a replay check (`onStoreError: 'accept'` while the store failed). */
  readonly replayUnchecked: number;
  /** Of the `store-unavailable` refusals, those because the replay store was full (always refused). */
  readonly storeFull: number;
}

function zeroes<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
}

/** Counters for one plugin instance; plain numbers, read through `snapshot()`. */
export class IpStampMetrics {
  readonly #accepted = zeroes(AGREEMENTS);
  readonly #rejected = zeroes(REASONS);
  #unstamped = 0;
  #replayUnchecked = 0;
  #storeFull = 0;

  countAccepted(agreement: Agreement, replayChecked: boolean): void {
    this.#accepted[agreement]++;
    if (!replayChecked) this.#replayUnchecked++;
  }

  countRejected(reason: Reason): void {
    this.#rejected[reason]++;
  }

  countStoreFull(): void {
    this.#storeFull++;
  }

  countUnstamped(): void {
    this.#unstamped++;
  }

  snapshot(): IpStampCounters {
    return {
      accepted: { ...this.#accepted },
      rejected: { ...this.#rejected },
      unstamped: this.#unstamped,
      replayUnchecked: this.#replayUnchecked,
      storeFull: this.#storeFull,
    };
  }
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * Prometheus text exposition format 0.0.4. Every label value is written, zeroes included, so
 * a dashboard's series exist before the first event (rate() over a missing series is empty).
 */
export function prometheusText(counters: IpStampCounters): string {
  const lines: string[] = [];
  const family = (name: string, help: string, samples: readonly [string, number][]): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
    for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
  };
  family(
    'ipstamp_accepted_total',
    'Stamps accepted, by agreement of the attested address with the network.',
    AGREEMENTS.map((a) => [`{agreement="${a}"}`, counters.accepted[a]]),
  );
  family(
    'ipstamp_rejected_total',
    'Requests rejected, by reason code (PROTOCOL.md section 5).',
    REASONS.map((r) => [`{reason="${r}"}`, counters.rejected[r]]),
  );
  family('ipstamp_unstamped_total', 'Requests without a stamp on routes where it is optional.', [['', counters.unstamped]]);
  family('ipstamp_replay_unchecked_total', "Stamps accepted without a replay check because the store failed (onStoreError 'accept').", [
    ['', counters.replayUnchecked],
  ]);
  family('ipstamp_replay_store_full_total', 'Stamps refused store-unavailable because the replay store was full (whatever onStoreError says).', [
    ['', counters.storeFull],
  ]);
  return `${lines.join('\n')}\n`;
}
