/**
 * The folder a `diffx sample` call writes into. Samples are never overwritten: an explicit
 * `--out` must be new or empty; the default `RUN/samples/<name>` gets `-2`, `-3`… when taken
 * (claimed with a non-recursive mkdir, so two concurrent calls never share a folder); an explicit
 * `--out` is claimed with a lock file (see claimOutDir).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { RuntimeFailure, UsageError } from "../errors.js";
import { RUN_FILES } from "../runs/folder.js";
import { describeOwner, LOCK_FILE, lockOwner, lockRun } from "../runs/lock.js";
import { makeDirs } from "../engine/make-dirs.js";

/** Throws (UsageError) when an explicit `--out` cannot take new samples; call before heavy work. */
export function checkOutDir(out: string | undefined): void {
  if (out === undefined) return;
  const dir = path.resolve(out);
  if (!fs.existsSync(dir)) return;
  if (!fs.statSync(dir).isDirectory()) throw new UsageError(`--out ${out}: exists and is not a folder`);
  const owner = lockOwner(dir);
  if (owner !== null) throw new UsageError(`--out ${out}: another diffx process (${describeOwner(owner)}) is writing samples into it; choose another folder`);
  if (fs.readdirSync(dir).some((e) => e !== LOCK_FILE)) throw new UsageError(`--out ${out}: already exists and is not empty (diffx does not overwrite samples); choose another folder`);
}

function makeDir(dir: string, out: string): void {
  try {
    makeDirs(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOSPC") throw new RuntimeFailure(`--out ${out}: disk full while creating the folder (ENOSPC)`);
    if (code === "EEXIST" || code === "ENOTDIR") throw new UsageError(`--out ${out}: a file is in the way of the folder`);
    throw new RuntimeFailure(`--out ${out}: cannot create the folder (${code ?? (err as Error).message})`);
  }
}

/** A claimed output folder; `release` gives up the claim (call it once the folder is complete). */
export interface ClaimedOutDir {
  dir: string;
  release: () => void;
}

/**
 * Creates (or takes, when empty) the output folder and returns its absolute path. An explicit
 * `--out` is claimed with the run-folder lock (O_EXCL, holding our pid) before it is checked
 * for emptiness, so of two calls racing for the same new folder exactly one gets it and the
 * other is refused; a lock left by a killed call is taken over only if the folder is still empty.
 */
export function claimOutDir(runDir: string, out: string | undefined, name: string): ClaimedOutDir {
  if (out !== undefined) {
    checkOutDir(out);
    const dir = path.resolve(out);
    makeDir(dir, out);
    let release: () => void;
    try {
      release = lockRun(dir);
    } catch (err) {
      checkOutDir(out); // names the other process when it holds the folder
      throw err;
    }
    if (fs.readdirSync(dir).some((e) => e !== LOCK_FILE)) {
      release();
      throw new UsageError(`--out ${out}: already exists and is not empty (diffx does not overwrite samples); choose another folder`);
    }
    return { dir, release };
  }
  const root = path.join(runDir, RUN_FILES.samples);
  makeDirs(root);
  for (let k = 1; k < 10000; k++) {
    const dir = path.join(root, k === 1 ? name : `${name}-${k}`);
    try {
      fs.mkdirSync(dir); // atomic: the call that creates the folder owns it
      return { dir, release: () => {} };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
  throw new UsageError(`${root}: cannot find a free folder name for ${name}; give --out DIR`);
}
