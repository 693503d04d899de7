/**
 * `mkdir -p` without Node's recursive mkdir, which loops forever where a parent exists but
 * refuses children with ENOENT (e.g. under /proc): the missing folders are made one at a time,
 * top down, so such a path fails at once with the system's error.
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** Create `dir` and its missing parents; a folder that already exists is fine. Throws the system error otherwise. */
export function makeDirs(dir: string): void {
  const missing: string[] = [];
  for (let p = path.resolve(dir); !fs.existsSync(p); p = path.dirname(p)) {
    missing.push(p);
    if (path.dirname(p) === p) break;
  }
  for (const p of missing.reverse()) {
    try {
      fs.mkdirSync(p);
    } catch (err) {
      // made meanwhile by another process: fine if it is a folder
      if ((err as NodeJS.ErrnoException).code !== "EEXIST" || !fs.statSync(p).isDirectory()) throw err;
    }
  }
  if (missing.length === 0 && !fs.statSync(dir).isDirectory()) {
    throw Object.assign(new Error(`EEXIST: file already exists, mkdir '${dir}'`), { code: "EEXIST", path: dir });
  }
}
