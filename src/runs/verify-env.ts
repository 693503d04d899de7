/**
 * How the environment of a `diffx verify` re-run compares with the recorded one, which decides
 * whether identical bytes can be demanded.
 *
 * Bit-exact reproduction is expected only on the deterministic backends (wasm, cpu) with the
 * same backend library version, thread count and worker count, and onnxruntime on the CPU. Everything else is compared
 * numerically within `verify.rtol`.
 */
import type { BackendRecord } from "./manifest.js";
import type { BackendInfo, Comparison } from "./verify-types.js";

export const DETERMINISTIC_BACKENDS: readonly string[] = ["wasm", "cpu"];

/**
 * Exact or numeric comparison for a re-run on `here` of a run recorded on `recorded`, with one
 * note per reason to fall back to numbers. `withWorkers`: whether the worker count matters
 * (training; a sample grid is computed in one process).
 */
export function chooseComparison(recorded: BackendRecord | null, here: BackendInfo, withWorkers: boolean): { comparison: Comparison; notes: string[] } {
  if (recorded === null) return { comparison: "numeric", notes: ["the run does not record its backend: comparing numbers within verify.rtol"] };
  const reasons: string[] = [];
  if (!DETERMINISTIC_BACKENDS.includes(recorded.name)) reasons.push(`recorded on '${recorded.name}', which is not bit-reproducible (native kernels, GPU reductions)`);
  if (recorded.device?.provider === "cuda") reasons.push("onnxruntime computed on CUDA, which is not bit-reproducible (cuDNN picks its algorithms per run; TF32)");
  if (here.name !== recorded.name) reasons.push(`backend differs: recorded ${recorded.name}, here ${here.name}`);
  else if (here.version !== recorded.version) reasons.push(`${recorded.name} version differs: recorded ${recorded.version}, here ${here.version}`);
  if (here.threads !== recorded.threads) reasons.push(`threads differ: recorded ${recorded.threads}, here ${here.threads}`);
  if (withWorkers && here.workers !== recorded.workers) reasons.push(`workers differ: recorded ${recorded.workers}, here ${here.workers}`);
  if (reasons.length === 0) return { comparison: "exact", notes: [] };
  return { comparison: "numeric", notes: reasons.map((r) => `${r}: comparing numbers within verify.rtol instead of exact hashes`) };
}

/** Environment facts that differ from the record and may explain a mismatch (never a failure by themselves). */
export function environmentNotes(m: { diffx_version: string; git_commit: string | null; lockfile_sha256: string | null; node: string; platform: string }, here: { diffx_version: string; git_commit: string | null; lockfile_sha256: string | null }): string[] {
  const notes: string[] = [];
  if (m.diffx_version !== here.diffx_version) notes.push(`diffx version differs: recorded ${m.diffx_version}, here ${here.diffx_version}`);
  if (m.git_commit && here.git_commit && m.git_commit !== here.git_commit) notes.push(`git commit differs: recorded ${m.git_commit.slice(0, 12)}, here ${here.git_commit.slice(0, 12)}`);
  if (m.lockfile_sha256 && here.lockfile_sha256 && m.lockfile_sha256 !== here.lockfile_sha256) notes.push("package-lock.json differs from the recorded one (installed package versions may differ)");
  if (m.node !== process.version) notes.push(`Node differs: recorded ${m.node}, here ${process.version}`);
  const platform = `${process.platform}-${process.arch}`;
  if (m.platform !== platform) notes.push(`platform differs: recorded ${m.platform}, here ${platform}`);
  return notes;
}
