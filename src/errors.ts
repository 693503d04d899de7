/**
 * Errors a user can cause. Every layer may throw these; only `src/cli` turns them into a
 * printed message and an exit code (2 = usage or config error, 1 = runtime failure).
 */
export class DiffxError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad config, bad arguments, bad input files: the user must change what they asked for. Exit 2. */
export class UsageError extends DiffxError {
  constructor(message: string) {
    super(message, 2);
  }
}

/** The job was valid but failed while running (NaN loss, crashed worker, full disk, tampered file). Exit 1. */
export class RuntimeFailure extends DiffxError {
  constructor(message: string) {
    super(message, 1);
  }
}
