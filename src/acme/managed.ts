/** One certificate the ACME manager keeps issued: its timer and the state of its orders. */
export interface Managed {
  readonly name: string;
  readonly hosts: readonly string[];
  readonly origin: 'config' | 'api';
  timer: NodeJS.Timeout | undefined;
  /** When the armed timer orders (epoch ms); undefined when none is armed. */
  dueAt: number | undefined;
  running: boolean;
  failures: number;
  lastError: string | undefined;
  retryAt: number | undefined;
  /** When this process last installed it (keeps min_renew_interval across renewals). */
  lastIssuedAt: number | undefined;
}
