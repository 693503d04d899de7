/**
 * One writer per run folder: a lock file created with O_EXCL holding the owner's pid.
 * A lock left by a process that no longer exists is taken over.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { RuntimeFailure, UsageError } from "../errors.js";

/** The lock file's name inside a run folder (RUN_FILES.lock). */
export const LOCK_FILE = ".lock";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function readOwner(file: string): number | null {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return null;
  }
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isFinite(pid) && pid > 0 ? pid : null;
}

/** The pid of another live process holding the run folder's lock, or null. */
export function lockOwner(runDir: string): number | null {
  const owner = readOwner(path.join(runDir, LOCK_FILE));
  return owner !== null && owner !== process.pid && alive(owner) ? owner : null;
}

/** The message for a run folder another process is writing. */
export function inUseError(runDir: string, pid: number): UsageError {
  return new UsageError(`${runDir}: in use by another diffx process (pid ${pid}); wait for it or stop it`);
}

/** Take the run folder's lock; returns a release function. Throws if another live diffx holds it. */
export function lockRun(runDir: string): () => void {
  const file = path.join(runDir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = fs.openSync(file, "wx");
      try {
        fs.writeSync(fd, `${process.pid}\n`);
      } finally {
        fs.closeSync(fd);
      }
      let released = false;
      return () => {
        if (released) return;
        released = true;
        if (readOwner(file) === process.pid) fs.rmSync(file, { force: true });
      };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOSPC") throw new RuntimeFailure(`disk full while creating the lock ${file} (ENOSPC)`);
      if (code !== "EEXIST") throw new RuntimeFailure(`cannot create the lock ${file} (${code ?? (err as Error).message})`);
      const owner = readOwner(file);
      if (owner === null && attempt === 0) {
        // the owner may be between creating the file and writing its pid: look again shortly
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
        continue;
      }
      if (owner !== null && owner !== process.pid && alive(owner)) throw inUseError(runDir, owner);
      fs.rmSync(file, { force: true }); // stale lock from a dead process
    }
  }
  throw new UsageError(`${runDir}: cannot take the run lock (${file})`);
}
