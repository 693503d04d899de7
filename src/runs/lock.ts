/**
 * One writer per run folder: a lock file created with O_EXCL holding the owner's pid.
 * A lock left by a process that no longer exists is taken over.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { UsageError } from "../errors.js";
import { RUN_FILES } from "./folder.js";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Take the run folder's lock; returns a release function. Throws if another live diffx holds it. */
export function lockRun(runDir: string): () => void {
  const file = path.join(runDir, RUN_FILES.lock);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = fs.openSync(file, "wx");
      fs.writeSync(fd, `${process.pid}\n`);
      fs.closeSync(fd);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        try {
          if (fs.readFileSync(file, "utf8").trim() === String(process.pid)) fs.rmSync(file, { force: true });
        } catch {
          /* already gone */
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const owner = Number.parseInt(fs.readFileSync(file, "utf8").trim(), 10);
      if (Number.isFinite(owner) && owner !== process.pid && alive(owner)) {
        throw new UsageError(`${runDir}: in use by another diffx process (pid ${owner}); wait for it or stop it`);
      }
      fs.rmSync(file, { force: true }); // stale lock from a dead process
    }
  }
  throw new UsageError(`${runDir}: cannot take the run lock`);
}
