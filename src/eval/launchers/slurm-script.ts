/**
 * Slurm batch scripts as text: a pure function of what the job is (no files, no Slurm), so the
 * scripts `--dry-run` prints are exactly the ones submitted, and tests can read them.
 *
 * A script is: a header of comments saying what the job does, the `#SBATCH` options (job name,
 * array, log file, requeue, resources from the config's `launcher` section), then a short bash
 * body that `cd`s to the submitting folder and `exec`s one diffx command (exec: the command is
 * the job's process, so Slurm's signals reach it; nothing is daemonized or put in a new session).
 */
import type { LauncherConfig } from "../../config/schema.js";

export interface SbatchScript {
  /** The job's name as squeue shows it. */
  jobName: string;
  /** Comment lines describing the job (without the leading "# "). */
  about: string[];
  /** Log file (stdout and stderr), absolute; may use %j, %A, %a. */
  log: string;
  /** Array task indices (a job array), or undefined for a single job. */
  array?: readonly number[];
  /** --gres value, or null for none. */
  gres: string | null;
  launcher: LauncherConfig;
  /** Folder the job runs in (where the user submitted from: datasets/ and relative paths resolve there). */
  cwd: string;
  /** The bash body after `set -euo pipefail` and `cd`. */
  body: string[];
}

/** "0-3" for consecutive indices, "0,2,5-7" otherwise (sbatch --array syntax). */
export function arraySpec(indices: readonly number[]): string {
  const sorted = [...new Set(indices)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(j > i ? `${sorted[i]}-${sorted[j]}` : `${sorted[i]}`);
    i = j + 1;
  }
  return parts.join(",");
}

/** Quote a word for bash when it needs it. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The #SBATCH option lines of a job. */
export function sbatchOptions(s: SbatchScript): string[] {
  const l = s.launcher;
  const opts: string[] = [`--job-name=${s.jobName}`];
  if (s.array) opts.push(`--array=${arraySpec(s.array)}`);
  opts.push(`--output=${s.log}`, "--open-mode=append", "--requeue", "--nodes=1", "--ntasks=1");
  if (l.cpus_per_task !== undefined) opts.push(`--cpus-per-task=${l.cpus_per_task}`);
  if (s.gres !== null) opts.push(`--gres=${s.gres}`);
  if (l.mem !== undefined) opts.push(`--mem=${l.mem}`);
  if (l.time !== undefined) opts.push(`--time=${l.time}`);
  if (l.partition !== undefined) opts.push(`--partition=${l.partition}`);
  if (l.account !== undefined) opts.push(`--account=${l.account}`);
  opts.push(...l.extra_args);
  return opts;
}

/** The whole batch script. */
export function renderSbatchScript(s: SbatchScript): string {
  return [
    "#!/bin/bash",
    ...s.about.map((line) => (line ? `# ${line}` : "#")),
    ...sbatchOptions(s).map((o) => `#SBATCH ${o}`),
    "",
    "set -euo pipefail",
    `cd ${shellQuote(s.cwd)}`,
    ...s.body,
    "",
  ].join("\n");
}

/**
 * The --gres of a job: `launcher.gres` as written, none for "none", and for "auto" one GPU per
 * training device (`gpus`), or none when the job asks for no GPU count.
 */
export function gresFor(launcher: LauncherConfig, gpus: number | null): string | null {
  if (launcher.gres === "none") return null;
  if (launcher.gres !== "auto") return launcher.gres;
  return gpus === null ? null : `gpu:${gpus}`;
}
