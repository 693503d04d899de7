/**
 * Run locks on a shared filesystem: a lock names pid, host and Slurm job. A lock of a dead
 * process on this host is taken over; a lock from another host cannot be checked from here and
 * counts as held, except by a later run of the same Slurm job (a requeued task: Slurm ended the
 * earlier run before it started this one).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { tempDir } from "../helpers/cli.js";
import { describeOwner, lockOwner, lockRun, readLock } from "../../src/runs/lock.js";
import { childInOwnGroup, ownSlurmJob } from "../../src/runs/slurm-job.js";

const root = tempDir("diffx-lock-");

function folder(name: string, lock: string | null): string {
  const dir = path.join(root, name);
  fs.mkdirSync(dir);
  if (lock !== null) fs.writeFileSync(path.join(dir, ".lock"), lock);
  return dir;
}

/** Run `f` with the Slurm variables of an array task set (and restore the environment). */
function inSlurmTask<T>(job: string, task: string, f: () => T): T {
  const keys = ["SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID"] as const;
  const saved = keys.map((k) => process.env[k]);
  Object.assign(process.env, { SLURM_JOB_ID: "999", SLURM_ARRAY_JOB_ID: job, SLURM_ARRAY_TASK_ID: task });
  try {
    return f();
  } finally {
    keys.forEach((k, i) => (saved[i] === undefined ? delete process.env[k] : (process.env[k] = saved[i])));
  }
}

test("a lock records pid, host and (inside a Slurm job) the job as squeue names it", () => {
  const dir = folder("own", null);
  const release = inSlurmTask("41", "3", () => lockRun(dir));
  assert.equal(fs.readFileSync(path.join(dir, ".lock"), "utf8"), `${process.pid}\n${os.hostname()}\n41_3\n`);
  assert.deepEqual(readLock(dir), { pid: process.pid, host: os.hostname(), job: "41_3" });
  assert.equal(lockOwner(dir), null, "our own lock does not stop us");
  release();
  assert.ok(!fs.existsSync(path.join(dir, ".lock")));
  assert.equal(ownSlurmJob({ SLURM_JOB_ID: "7" }), "7");
  assert.equal(ownSlurmJob({}), null);
  assert.equal(childInOwnGroup({ SLURM_JOB_ID: "7" }), false, "inside a job children stay in the job's process group");
  assert.equal(childInOwnGroup({}), true);
});

test("a lock of a dead process on this host is taken over; an old pid-only lock too", () => {
  for (const [name, text] of [["dead", `999999999\n${os.hostname()}\n\n`], ["old", "999999999\n"]]) {
    const dir = folder(name, text);
    assert.equal(lockOwner(dir), null, name);
    lockRun(dir)();
  }
});

test("a lock from another host holds, naming host and job; only a later run of the same Slurm job takes it over", () => {
  const dir = folder("remote", "4242\nnode17\n41_3\n");
  const owner = lockOwner(dir);
  assert.deepEqual(owner, { pid: 4242, host: "node17", job: "41_3" });
  assert.equal(describeOwner(owner), "pid 4242 on node17 (Slurm job 41_3)");
  assert.throws(() => lockRun(dir), /in use by another diffx process \(pid 4242 on node17 \(Slurm job 41_3\)\)/);
  assert.throws(() => inSlurmTask("41", "2", () => lockRun(dir)), /in use/, "another task of the same array");
  const release = inSlurmTask("41", "3", () => lockRun(dir));
  assert.equal(readLock(dir)?.pid, process.pid);
  release();
});
