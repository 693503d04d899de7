/**
 * What `diffx verify` reports: one entry per checked stage and one row per mismatch
 * (file, where in it, expected, got). Shared by the checks in src/runs/verify-*.ts and the CLI.
 */

export const VERIFY_STAGES = ["data", "train", "sample", "eval"] as const;
export type VerifyStage = (typeof VERIFY_STAGES)[number];

/** `files` is the tamper check of the run folder itself; the others re-run a stage. */
export type CheckName = "files" | VerifyStage;

/**
 * `exact`: byte-for-byte (sha256) equality, for deterministic backends (wasm, cpu) re-run with
 * the recorded backend, library version, thread and worker count. `numeric`: numbers within
 * `verify.rtol` (metrics values, checkpoint tensors, report numbers, pixels).
 */
export type Comparison = "exact" | "numeric";

export interface Mismatch {
  check: CheckName;
  /** Path relative to the run folder (dataset files: `datasets/<name>/<file>`). */
  file: string;
  /** Where inside the file (`step 3: loss`, a tensor name, a JSON path); empty for whole files. */
  where: string;
  expected: string;
  got: string;
}

export interface CheckReport {
  check: CheckName;
  status: "match" | "mismatch";
  comparison: Comparison;
  /** One line saying what was compared. */
  summary: string;
  /** Things the user should know (environment differences, files left out and why). */
  notes: string[];
  mismatches: number;
}

export interface VerifyReport {
  run: string;
  ok: boolean;
  /** Differences between the recorded environment and this one (informational). */
  notes: string[];
  checks: CheckReport[];
  mismatches: Mismatch[];
}

/** How a stage's re-run was computed (for the exact/numeric decision). */
export interface BackendInfo {
  name: string;
  version: string;
  threads: number;
  workers: number;
}

/** The first `n` hex digits of a digest, for tables (JSON output keeps full digests). */
export function shortHash(h: string, n = 16): string {
  return h.length > n ? `${h.slice(0, n)}…` : h;
}
