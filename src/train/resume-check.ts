/**
 * What `diffx train --resume` checks in the run folder before it touches anything:
 *
 * - the files it is about to read — the newest checkpoint's tensors and state, tokenizer.json,
 *   split.json — against the sha256 manifest.json records (runs/integrity.ts): a NaN written
 *   into params.bin is a damaged file, not a learning-rate problem;
 * - that metrics.jsonl still holds the run's history up to that checkpoint: a record for every
 *   `train.log_every`-th step, and (when the manifest was last written at that checkpoint, by a
 *   single-process run that did not fail) exactly the bytes it recorded. Resuming on a truncated, emptied or
 *   deleted log would finish with a gap that `diffx verify` reports much later; the lost losses
 *   cannot be recomputed without training again, so the resume is refused with what to do.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Config } from "../config/schema.js";
import { sha256 } from "../engine/hash.js";
import { RuntimeFailure } from "../errors.js";
import { RUN_FILES } from "../runs/folder.js";
import { checkpointFiles, requireUnchanged } from "../runs/integrity.js";
import { readManifest, type RunManifest } from "../runs/manifest.js";
import { checkpointDir, listCheckpoints } from "./checkpoint.js";

/** Refuse (RuntimeFailure, exit 1) to resume a run whose files changed or whose metrics lost history. */
export function checkResumable(runDir: string, config: Config): void {
  const manifest = readManifest(runDir);
  const steps = listCheckpoints(runDir);
  const last = steps[steps.length - 1];
  const files: string[] = [RUN_FILES.tokenizer, RUN_FILES.split];
  if (last !== undefined) files.push(...checkpointFiles(last, fs.readdirSync(checkpointDir(runDir, last)).sort()));
  requireUnchanged(runDir, manifest, files, "resume it");
  checkMetricsHistory(runDir, manifest, config, last ?? 0);
}

function checkMetricsHistory(runDir: string, manifest: RunManifest, config: Config, step: number): void {
  if (step === 0) return; // no checkpoint: the run starts again from step 0, and its log with it
  const file = path.join(runDir, RUN_FILES.metrics);
  const advice = `resuming would leave a gap in the run's history (diffx verify would report it); restore ${RUN_FILES.metrics} from a copy, or start the run again with 'diffx train ${path.join(runDir, RUN_FILES.config)}'`;
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    throw new RuntimeFailure(`${file}: missing, but the run has trained ${step} steps (checkpoint step ${step}); ${advice}`);
  }
  // the lines the resumed log keeps (MetricsLog): records up to the checkpoint; a torn line from a crash is dropped
  const kept: string[] = [];
  const logged = new Set<number>();
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch {
      continue;
    }
    const s = typeof rec === "object" && rec !== null ? (rec as { step?: unknown }).step : undefined;
    if (typeof s === "number" && s <= step) {
      kept.push(line);
      logged.add(s);
    }
  }
  const every = config.train.log_every;
  const missing: number[] = [];
  for (let s = every; s <= step; s += every) if (!logged.has(s)) missing.push(s);
  if (missing.length > 0) {
    const expected = Math.floor(step / every);
    const which = missing.length === 1 ? `step ${missing[0]}` : `steps ${missing[0]}…${missing[missing.length - 1]}`;
    throw new RuntimeFailure(`${file}: holds ${expected - missing.length} of the ${expected} records up to checkpoint step ${step} (${which} missing: truncated, emptied or edited after it was written); ${advice}`);
  }
  const recorded = manifest.outputs[RUN_FILES.metrics];
  // the recorded hash is of the log as it stood at that checkpoint only when the manifest was
  // last written there, by one process (data-parallel: rank 0 appends while the parent hashes)
  const single = (manifest.backend?.workers ?? 1) === 1;
  if (typeof recorded === "string" && manifest.step === step && manifest.status !== "failed" && single) {
    if (sha256(kept.map((l) => l + "\n").join("")) !== recorded) {
      throw new RuntimeFailure(`${file}: its records up to checkpoint step ${step} changed since diffx wrote them (sha256 differs from the one ${RUN_FILES.manifest} records); ${advice}`);
    }
  }
}
