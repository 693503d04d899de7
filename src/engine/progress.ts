/**
 * How library code reports progress without printing: it calls a ProgressSink, and the CLI
 * decides whether that becomes a cli-progress bar, plain periodic lines, JSON, or nothing.
 */
export interface ProgressSink {
  /** A long task begins: `total` units of work. */
  start(label: string, total: number): void;
  /** `done` units finished; `fields` are shown beside the bar (loss, it/s…). */
  update(done: number, fields?: Record<string, string | number>): void;
  /** The task ended (successfully or not). */
  stop(): void;
  /** An informational line. */
  info(message: string): void;
  /** A warning the user should see even with --quiet. */
  warn(message: string): void;
}

export const silentProgress: ProgressSink = {
  start() {},
  update() {},
  stop() {},
  info() {},
  warn() {},
};
