/**
 * One writer per run folder: a lock file created with O_EXCL holding the owner's pid, host
 * name and, inside a Slurm job, the job's id ("123" or "123_4" for an array task).
 *
 * On the owner's host, a lock left by a process that no longer exists is taken over. A lock from
 * another host (a run folder on a shared filesystem) cannot be checked from here and counts as
 * held, except by a requeued incarnation of the same Slurm job (Slurm ended the earlier one
 * before it started this one); the Slurm launcher clears locks of its own jobs that have ended.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { RuntimeFailure, UsageError } from "../errors.js";
import { ownSlurmJob } from "./slurm-job.js";

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

export interface LockOwner {
  pid: number;
  /** Host name of the owner (null in locks written before hosts were recorded). */
  host: string | null;
  /** The owner's Slurm job ("123", or "123_4" for an array task), or null outside Slurm. */
  job: string | null;
}

function readOwner(file: string): LockOwner | null {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return null;
  }
  const [pidText, host, job] = text.split("\n").map((l) => l.trim());
  const pid = Number.parseInt(pidText, 10);
  return Number.isFinite(pid) && pid > 0 ? { pid, host: host || null, job: job || null } : null;
}

/** The owner of a run folder's lock as recorded (alive or not), or null when there is none. */
export function readLock(runDir: string): LockOwner | null {
  return readOwner(path.join(runDir, LOCK_FILE));
}

function isSelf(o: LockOwner): boolean {
  return o.pid === process.pid && (o.host === null || o.host === os.hostname());
}

/** Whether the lock's owner may still be writing (see the file comment). */
function holds(o: LockOwner): boolean {
  if (isSelf(o)) return false;
  if (o.host === null || o.host === os.hostname()) return alive(o.pid);
  return !(o.job !== null && o.job === ownSlurmJob());
}

/** Another process that holds the run folder's lock, or null. */
export function lockOwner(runDir: string): LockOwner | null {
  const owner = readLock(runDir);
  return owner !== null && holds(owner) ? owner : null;
}

/** "pid 123", "pid 123 on node7 (Slurm job 88_2)". */
export function describeOwner(o: LockOwner): string {
  const remote = o.host !== null && o.host !== os.hostname();
  return `pid ${o.pid}${remote ? ` on ${o.host}` : ""}${o.job ? ` (Slurm job ${o.job})` : ""}`;
}

/** The message for a run folder another process is writing. */
export function inUseError(runDir: string, owner: LockOwner): UsageError {
  return new UsageError(`${runDir}: in use by another diffx process (${describeOwner(owner)}); wait for it or stop it`);
}

/** Take the run folder's lock; returns a release function. Throws if another live diffx holds it. */
export function lockRun(runDir: string): () => void {
  const file = path.join(runDir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = fs.openSync(file, "wx");
      try {
        fs.writeSync(fd, `${process.pid}\n${os.hostname()}\n${ownSlurmJob() ?? ""}\n`);
      } finally {
        fs.closeSync(fd);
      }
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const o = readOwner(file);
        if (o !== null && isSelf(o)) fs.rmSync(file, { force: true });
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
      if (owner !== null && holds(owner)) throw inUseError(runDir, owner);
      fs.rmSync(file, { force: true }); // stale lock from a dead process (or an earlier incarnation of this Slurm job)
    }
  }
  throw new UsageError(`${runDir}: cannot take the run lock (${file})`);
}
