/** Integer weight per stack name. */
export type Weights = Readonly<Record<string, number>>;

/** One recorded change of a service's weights. */
export interface HistoryEntry {
  /** ISO time the change was acknowledged. */
  readonly time: string;
  readonly from: Weights;
  readonly to: Weights;
  /** switch | weights | rollback, or the caller's reason. */
  readonly reason: string;
  /** Who asked: "admin" or the caller's actor. */
  readonly actor: string;
  readonly generation: number;
}

/** What run time changed of one service; config is the base, this overrides it. */
export interface ServiceState {
  readonly generation: number;
  readonly weights: Weights;
  /** Targets replaced at run time, per stack. */
  readonly targets: Readonly<Record<string, readonly string[]>>;
  readonly history: readonly HistoryEntry[];
}
