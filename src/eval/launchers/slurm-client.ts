/**
 * The Slurm commands diffx calls (sbatch, squeue, scancel), each with a time limit so a cluster
 * that does not answer gives an error instead of a hang, and a clear error when the command is
 * not installed.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { RuntimeFailure, UsageError } from "../../errors.js";

/** How long one Slurm command may take before diffx gives up on it. */
const COMMAND_TIMEOUT_MS = 60_000;

/** The command's path on PATH, or null. */
export function findCommand(name: string, env: NodeJS.ProcessEnv = process.env): string | null {
  for (const dir of (env.PATH ?? "").split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return file;
    } catch {
      /* not here */
    }
  }
  return null;
}

/** Throws a UsageError naming the missing command when Slurm's client tools are not installed. */
export function requireSlurm(what: string): void {
  if (findCommand("sbatch") === null) {
    throw new UsageError(
      `${what} submits Slurm jobs with 'sbatch', which is not on PATH; run it on a machine with Slurm's client tools (Debian: apt-get install slurm-client), use --dry-run to see the batch scripts, or run locally with --launcher local`,
    );
  }
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: COMMAND_TIMEOUT_MS, stdio: ["ignore", "pipe", "pipe"] });
  const shown = [cmd, ...args].join(" ");
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new UsageError(`'${cmd}' is not on PATH (Slurm's client tools are needed: Debian: apt-get install slurm-client)`);
    if (code === "ETIMEDOUT") throw new RuntimeFailure(`'${shown}' did not answer within ${COMMAND_TIMEOUT_MS / 1000} s; is slurmctld reachable? (scontrol ping)`);
    throw new RuntimeFailure(`'${shown}' could not run: ${r.error.message}`);
  }
  if (r.status !== 0) {
    const msg = (r.stderr || r.stdout || "").trim().split("\n").pop() ?? "";
    throw new RuntimeFailure(`'${shown}' failed (exit ${r.status ?? r.signal}): ${msg || "no message"}`);
  }
  return r.stdout;
}

/** Submit a batch script; returns the job id. `args` are extra sbatch options (e.g. --dependency). */
export function sbatch(script: string, args: readonly string[] = []): string {
  let out: string;
  try {
    out = run("sbatch", ["--parsable", ...args, script]);
  } catch (err) {
    if (err instanceof RuntimeFailure && /gres|generic resource/i.test(err.message)) {
      throw new RuntimeFailure(`${err.message} (launcher.gres decides the --gres line: auto asks for GPUs; on a cluster without GPUs set launcher.gres: none)`);
    }
    throw err;
  }
  // --parsable prints "jobid" or "jobid;cluster"
  const id = out.trim().split(";")[0];
  if (!/^\d+$/.test(id)) throw new RuntimeFailure(`sbatch ${script}: unexpected answer '${out.trim()}' (expected a job id)`);
  return id;
}

/** squeue's states of jobs that are queued, running or about to run again. */
const LIVE_STATES = new Set(["PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED"]);

export function isLive(state: string): boolean {
  return LIVE_STATES.has(state);
}

/**
 * The states of this user's jobs that Slurm still knows (live ones, and ended ones for a few
 * minutes after they end), one entry per array task ("123_4"), or null when squeue is not
 * installed. An array's tasks still pending together are listed one by one.
 */
export function jobStates(): Map<string, string> | null {
  if (findCommand("squeue") === null) return null;
  const out = run("squeue", ["--noheader", "--array", "--me", "--states=all", "--format=%i|%T"]);
  const states = new Map<string, string>();
  for (const line of out.split("\n")) {
    const [id, state] = line.trim().split("|");
    if (id && state) states.set(id, state);
  }
  return states;
}

/** Cancel jobs (ids as squeue names them). */
export function scancel(ids: readonly string[]): void {
  if (ids.length) run("scancel", [...ids]);
}
