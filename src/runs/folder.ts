/**
 * Run folders: `runs/<name>-<UTC yyyymmdd-hhmmss>[-n]/`, created atomically (mkdir fails if
 * the name exists, so two runs never share a folder), plus the fixed layout inside.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { UsageError } from "../errors.js";

export const RUN_FILES = {
  config: "config.yaml",
  manifest: "manifest.json",
  metrics: "metrics.jsonl",
  checkpoints: "checkpoints",
  samples: "samples",
  plots: "plots",
  eval: "eval",
  lock: ".lock",
  split: "split.json",
  tokenizer: "tokenizer.json",
} as const;

function utcStamp(d: Date): string {
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
    if (fs.existsSync(path.join(dir, RUN_FILES.manifest)) || fs.existsSync(path.join(dir, RUN_FILES.config))) {
      throw new UsageError(`${dir}: already holds a run; choose another --run-dir or use --resume`);
    }
    fs.mkdirSync(dir, { recursive: true });
    return dir;
  }
  fs.mkdirSync(runsRoot, { recursive: true });
  const base = path.join(runsRoot, `${name}-${utcStamp(now)}`);
  for (let n = 1; n < 10000; n++) {
    const dir = n === 1 ? base : `${base}-${n}`;
    try {
      fs.mkdirSync(dir);
      return path.resolve(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
  throw new UsageError(`${runsRoot}: cannot find a free run folder name for ${name}`);
}

/** A run folder that must exist and hold a run. */
export function requireRunDir(dir: string): string {
  const abs = path.resolve(dir);
  if (!fs.existsSync(abs)) throw new UsageError(`${dir}: no such run folder`);
  if (!fs.existsSync(path.join(abs, RUN_FILES.config))) throw new UsageError(`${dir}: not a diffx run folder (no ${RUN_FILES.config})`);
  return abs;
}
