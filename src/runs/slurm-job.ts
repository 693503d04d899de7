/**
 * Whether this process runs inside a Slurm job, and which one. Slurm tracks a job's processes
 * (proctrack/linuxproc: by parent pid; others: by process group or cgroup), so inside a job
 * diffx starts its child processes in the job's own session and process group: a child made a
 * session leader (`detached`, i.e. setsid) would escape the job's accounting and its
 * signals (scancel, preemption).
 */

/** This process's Slurm job as squeue names it ("123", or "123_4" for an array task), or null outside a Slurm job. */
export function ownSlurmJob(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.SLURM_ARRAY_JOB_ID && env.SLURM_ARRAY_TASK_ID) return `${env.SLURM_ARRAY_JOB_ID}_${env.SLURM_ARRAY_TASK_ID}`;
  return env.SLURM_JOB_ID || null;
}

/**
 * Whether a child process should get a process group of its own (`detached`): yes on a
 * terminal (a Ctrl-C then reaches the child once, through its parent), no inside a Slurm job.
 */
export function childInOwnGroup(env: NodeJS.ProcessEnv = process.env): boolean {
  return ownSlurmJob(env) === null;
}
