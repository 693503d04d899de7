/**
 * The folder a `diffx sample` call writes into. Samples are never overwritten: an explicit
 * `--out` must be new or empty; the default `RUN/samples/<name>` gets `-2`, `-3`… when taken
 * (claimed with a non-recursive mkdir, so two concurrent calls never share a folder).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { UsageError } from "../errors.js";
import { RUN_FILES } from "../runs/folder.js";

/** Throws (UsageError) when an explicit `--out` cannot take new samples; call before heavy work. */
export function checkOutDir(out: string | undefined): void {
  if (out === undefined) return;
  const dir = path.resolve(out);
  if (!fs.existsSync(dir)) return;
  if (!fs.statSync(dir).isDirectory()) throw new UsageError(`--out ${out}: exists and is not a folder`);
  if (fs.readdirSync(dir).length > 0) throw new UsageError(`--out ${out}: already exists and is not empty (diffx does not overwrite samples); choose another folder`);
}

/** Creates (or takes, when empty) the output folder and returns its absolute path. */
export function claimOutDir(runDir: string, out: string | undefined, name: string): string {
  if (out !== undefined) {
    checkOutDir(out);
    const dir = path.resolve(out);
    fs.mkdirSync(dir, { recursive: true });
    return dir;
  }
  const root = path.join(runDir, RUN_FILES.samples);
  fs.mkdirSync(root, { recursive: true });
  for (let k = 1; k < 10000; k++) {
    const dir = path.join(root, k === 1 ? name : `${name}-${k}`);
    try {
      fs.mkdirSync(dir);
      return dir;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
  throw new UsageError(`${root}: cannot find a free folder name for ${name}; give --out DIR`);
}
