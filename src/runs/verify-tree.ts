/**
 * Comparing every output of a recorded run with those of its re-run, nested runs included (an
 * eval's fold trainings are listed by their own manifest.json). Used by the eval stage of
 * `diffx verify`; files that record when they were made are left out by the caller's `skip`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { RUN_FILES } from "./folder.js";
import { readManifest, type RunManifest } from "./manifest.js";
import { compareOutputFile, type FileCompareContext, type MismatchList } from "./verify-compare.js";
import { shortHash } from "./verify-types.js";

/**
 * Every output of a run (path → sha256) with the outputs of nested runs put in place of their
 * manifest.json (which records start and finish times, so it differs between a run and its
 * re-run by construction).
 */
export function flattenOutputs(dir: string, m: RunManifest, prefix = "", out = new Map<string, string>()): Map<string, string> {
  for (const [rel, h] of Object.entries(m.outputs)) {
    if (path.posix.basename(rel) === RUN_FILES.manifest && rel !== RUN_FILES.manifest) {
      const sub = path.posix.dirname(rel);
      try {
        flattenOutputs(path.join(dir, sub), readManifest(path.join(dir, sub)), `${prefix}${sub}/`, out);
        continue;
      } catch {
        /* not a run manifest: an ordinary file */
      }
    }
    if (!out.has(prefix + rel)) out.set(prefix + rel, h);
  }
  return out;
}

/** Types that numeric comparison can judge (others are left out with a note, binary images and features). */
const NUMERIC_TYPES = [".json", ".jsonl", ".csv", ".svg", ".bin", ".yaml", ".txt"];

export interface TreeCompare {
  /** Files compared. */
  compared: number;
  notes: string[];
}

/**
 * Compare the outputs of `runDir` (manifest `a`) with those of `rerunDir` (manifest `b`).
 * `skip(rel)` returns why a file is left out, or null. Returns how many files were compared.
 */
export function compareTrees(runDir: string, a: RunManifest, rerunDir: string, b: RunManifest, ctx: FileCompareContext, skip: (rel: string) => string | null, list: MismatchList): TreeCompare {
  const want = flattenOutputs(runDir, a);
  const got = flattenOutputs(rerunDir, b);
  const reasons = new Map<string, number>();
  const leftOut = (why: string): void => {
    reasons.set(why, (reasons.get(why) ?? 0) + 1);
  };
  let compared = 0;
  for (const rel of [...new Set([...want.keys(), ...got.keys()])].sort()) {
    const why = skip(rel);
    if (why !== null) {
      leftOut(why);
      continue;
    }
    const wa = want.get(rel);
    const gb = got.get(rel);
    if (wa === undefined || gb === undefined) {
      list.add(rel, "", wa ? `sha256 ${shortHash(wa)}` : "(not in the run)", gb ? `sha256 ${shortHash(gb)}` : "(not written by the re-run)");
      continue;
    }
    if (!fs.existsSync(path.join(runDir, rel))) {
      leftOut("missing from the run folder (see the files check)");
      continue;
    }
    if (ctx.comparison === "numeric" && wa !== gb && !NUMERIC_TYPES.some((t) => rel.endsWith(t))) {
      leftOut("images and feature files are not compared within tolerance (the numbers computed from them are)");
      continue;
    }
    compareOutputFile(rel, path.join(runDir, rel), path.join(rerunDir, rel), ctx, list);
    compared++;
  }
  const notes = [...reasons].map(([why, n]) => `${n} file${n === 1 ? "" : "s"} left out: ${why}`);
  return { compared, notes };
}
