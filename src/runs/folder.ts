/**
 * Run folders: `runs/<name>-<UTC yyyymmdd-hhmmss>[-n]/`, created atomically (mkdir fails if
 * the name exists, so two runs never share a folder), plus the fixed layout inside.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { RuntimeFailure, UsageError } from "../errors.js";
import { inUseError, lockOwner, LOCK_FILE } from "./lock.js";
import { makeDirs } from "../engine/make-dirs.js";

export const RUN_FILES = {
  config: "config.yaml",
  manifest: "manifest.json",
  metrics: "metrics.jsonl",
  checkpoints: "checkpoints",
  samples: "samples",
  plots: "plots",
  eval: "eval",
  lock: LOCK_FILE,
  split: "split.json",
  tokenizer: "tokenizer.json",
} as const;

export function utcStamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

/**
 * Create a new run folder. With `explicitDir`, that folder is used and must not already hold a
 * run; otherwise `<runsRoot>/<name>-<stamp>` with `-2`, `-3`… appended if taken.
 */
export function createRunDir(runsRoot: string, name: string, explicitDir?: string, now: Date = new Date()): string {
  if (explicitDir) {
    const dir = path.resolve(explicitDir);
    checkRunDirFree(dir);
    mkdir(dir, true);
    return dir;
  }
  mkdir(runsRoot, true);
  const base = path.join(runsRoot, `${name}-${utcStamp(now)}`);
  for (let n = 1; n < 10000; n++) {
    const dir = n === 1 ? base : `${base}-${n}`;
    if (mkdir(dir, false)) return path.resolve(dir);
  }
  throw new UsageError(`${runsRoot}: cannot find a free run folder name for ${name}`);
}

/** mkdir with a clear message; false when `dir` exists and `existingOk` is false. */
function mkdir(dir: string, existingOk: boolean): boolean {
  try {
    if (existingOk) makeDirs(dir);
    else fs.mkdirSync(dir);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST" && !existingOk) return false;
    if (code === "ENOSPC") throw new RuntimeFailure(`disk full while creating ${dir} (ENOSPC)`);
    if (code === "EEXIST" || code === "ENOTDIR") throw new UsageError(`${dir}: a file is in the way of the run folder`);
    throw new RuntimeFailure(`cannot create ${dir} (${code ?? (err as Error).message})`);
  }
}

/**
 * Refuse a folder that another diffx process is writing (naming its pid) or that already holds
 * a run. A missing folder, or one without a run yet (e.g. prepared by eval), is free.
 */
export function checkRunDirFree(dir: string): void {
  const owner = fs.existsSync(dir) ? lockOwner(dir) : null;
  if (owner !== null) throw inUseError(dir, owner);
  if (fs.existsSync(path.join(dir, RUN_FILES.manifest)) || fs.existsSync(path.join(dir, RUN_FILES.config))) {
    throw new UsageError(`${dir}: already holds a run; choose another --run-dir or use --resume`);
  }
}

/** A run folder that must exist and hold a run. */
export function requireRunDir(dir: string): string {
  const abs = path.resolve(dir);
  if (!fs.existsSync(abs)) throw new UsageError(`${dir}: no such run folder`);
  if (!fs.existsSync(path.join(abs, RUN_FILES.config))) throw new UsageError(`${dir}: not a diffx run folder (no ${RUN_FILES.config})`);
  return abs;
}
