/**
 * Atomic file writes: every file diffx writes goes to a temporary name in the same folder,
 * is flushed, and is renamed over the target, so a reader (or a crash) never sees half a file.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { RuntimeFailure } from "../errors.js";
import { makeDirs } from "./make-dirs.js";

let counter = 0;

/** Test hook: when set, called before each write; it may throw (e.g. to simulate ENOSPC). */
let faultInjector: ((target: string) => void) | null = null;
export function setWriteFaultInjector(fn: ((target: string) => void) | null): void {
  faultInjector = fn;
}

/** A failed write, with the system error code (ENOSPC, EACCES…) for callers that say more. */
export class WriteFailure extends RuntimeFailure {
  constructor(
    message: string,
    readonly target: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

function describeWriteError(target: string, err: unknown): WriteFailure {
  const e = err as NodeJS.ErrnoException;
  const code = e && typeof e.code === "string" ? e.code : undefined;
  if (code === "ENOSPC" || code === "EDQUOT") return new WriteFailure(`disk full while writing ${target} (${code}); the previous file, if any, is unchanged`, target, code);
  if (code === "EACCES" || code === "EPERM") return new WriteFailure(`permission denied writing ${target}`, target, code);
  if (code === "EROFS") return new WriteFailure(`read-only file system: cannot write ${target}`, target, code);
  if (code === "EEXIST" || code === "ENOTDIR") {
    const file = fileInThePath(path.dirname(target));
    if (file) return new WriteFailure(`cannot write ${target}: ${file} is a file, not a folder`, target, code);
  }
  return new WriteFailure(`cannot write ${target}: ${e && e.message ? e.message : String(err)}`, target, code);
}

/** The nearest existing path on the way to `dir` if it is a file (what makes mkdir fail), else null. */
function fileInThePath(dir: string): string | null {
  for (let p = path.resolve(dir); ; p = path.dirname(p)) {
    if (fs.existsSync(p)) return fs.statSync(p).isDirectory() ? null : p;
    if (path.dirname(p) === p) return null;
  }
}

/** Write `data` to `target` atomically (temp file + fsync + rename). Creates parent folders. */
export function writeFileAtomic(target: string, data: string | Uint8Array): void {
  const dir = path.dirname(target);
  const tmp = path.join(dir, `.${path.basename(target)}.tmp-${process.pid}-${counter++}`);
  try {
    makeDirs(dir);
    if (faultInjector) faultInjector(target);
    const fd = fs.openSync(tmp, "w");
    try {
      fs.writeSync(fd, typeof data === "string" ? Buffer.from(data, "utf8") : data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, target);
  } catch (err) {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      /* nothing to clean */
    }
    throw describeWriteError(target, err);
  }
}

/** JSON with two-space indent and a trailing newline, written atomically. */
export function writeJsonAtomic(target: string, value: unknown): void {
  writeFileAtomic(target, JSON.stringify(value, null, 2) + "\n");
}
