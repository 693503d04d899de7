/**
 * Checking a run folder's files against the sha256 its manifest.json records, before they are
 * used: a checkpoint with a NaN written into it, a flipped byte in ema.bin or a permuted
 * tokenizer.json would otherwise resume, sample or export without a word (or fail much later
 * with advice about the learning rate). Every file diffx writes into a run is recorded there —
 * checkpoint files per step in `checkpoints` (kept after pruning), everything in `outputs`.
 *
 * A file the manifest does not record yet is not checked: a run killed between writing a
 * checkpoint and recording it must still resume from that checkpoint. A recorded file that is
 * missing is left to its reader, which names it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { sha256File } from "../engine/hash.js";
import { RuntimeFailure } from "../errors.js";
import { RUN_FILES } from "./folder.js";
import { manifestPath, readManifest, type RunManifest } from "./manifest.js";

const CHECKPOINT_FILE = /^checkpoints\/step-(\d+)\/([^/]+)$/;

/** The sha256 manifest.json records for `rel` (a checkpoint file: its per-step record first), or null. */
export function recordedHash(m: RunManifest, rel: string): string | null {
  const c = CHECKPOINT_FILE.exec(rel);
  if (c) {
    const h = m.checkpoints?.[c[1]]?.[c[2]];
    if (typeof h === "string") return h;
  }
  const h = m.outputs[rel];
  return typeof h === "string" ? h : null;
}

/** The files of `rels` (paths relative to `runDir`) whose content differs from the recorded sha256. */
export function changedFiles(runDir: string, m: RunManifest, rels: readonly string[]): string[] {
  const changed: string[] = [];
  for (const rel of rels) {
    const want = recordedHash(m, rel);
    const file = path.join(runDir, rel);
    if (want === null || !fs.existsSync(file)) continue;
    if (sha256File(file) !== want) changed.push(rel);
  }
  return changed;
}

/**
 * Throw a RuntimeFailure (exit 1) naming the first of `rels` that changed since diffx wrote it
 * (and the others that did), before it is used: `purpose` says for what ("resume it",
 * "sample from it or export it").
 */
export function requireUnchanged(runDir: string, m: RunManifest, rels: readonly string[], purpose: string): void {
  const changed = changedFiles(runDir, m, rels);
  if (changed.length === 0) return;
  const others = changed.length > 1 ? ` (and ${changed.slice(1).join(", ")})` : "";
  throw new RuntimeFailure(
    `${path.join(runDir, changed[0])}${others}: changed since diffx wrote it (sha256 differs from the one ${RUN_FILES.manifest} records); the run folder is damaged, so diffx will not ${purpose}. Restore the file from a copy, or train again`,
  );
}

/** `requireUnchanged` for a run folder that may have no manifest (then nothing is recorded, and nothing checked). */
export function requireUnchangedIfRecorded(runDir: string, rels: readonly string[], purpose: string): void {
  if (!fs.existsSync(manifestPath(runDir))) return;
  requireUnchanged(runDir, readManifest(runDir), rels, purpose);
}

/** The files of checkpoint `step` named by `names` (e.g. "ema.bin"), as paths relative to the run folder. */
export function checkpointFiles(step: number, names: readonly string[]): string[] {
  return names.map((n) => `${RUN_FILES.checkpoints}/step-${step}/${n}`);
}
