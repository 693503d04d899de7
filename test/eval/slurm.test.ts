/**
 * The Slurm launcher against a real Slurm: Debian's munge, slurmctld and slurmd (22.05) as a
 * single-node cluster on loopback, started by test/helpers/slurm-cluster.ts and stopped by pid
 * at the end. Where those packages are missing (or we are not root) the cluster tests skip and
 * say why; the dry-run and missing-sbatch tests need no Slurm and always run.
 *
 * The proof: `diffx eval configs/ci-tiny.yaml --folds 2` run locally, and the same eval submitted
 * to Slurm, where fold 1's training task is cancelled with scancel in mid-training and
 * `diffx eval --resume` resubmits only that fold; the Slurm eval's report has the same numbers as
 * the local one, bit for bit, and fold 1's final weights are those of the uninterrupted local
 * training. Likewise `diffx train --launcher slurm --devices 2`, requeued in mid-training (what
 * preemption does), ends with the weights of a local run. To stop a training at a known point on
 * a fast or a slow machine alike, the test pauses its process (SIGSTOP) once it has logged step 2
 * of 8; scancel or a requeue then sends it SIGCONT and SIGTERM as to any job, and it saves a
 * checkpoint where it stops.
 *
 * Features: the tiny ONNX model of test/fixtures/metrics (4 dims), as in eval-cli.test.ts.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { ROOT, runCli, tempDir } from "../helpers/cli.js";
import { slurmUnavailable, startSlurmCluster, type SlurmCluster } from "../helpers/slurm-cluster.js";
import type { EvalReport } from "../../src/report/report-types.js";
import { lastLoggedStep, type EvalStatus } from "../../src/eval/status.js";
import { alive } from "../helpers/process.js";

const CONFIG = path.join(ROOT, "configs", "ci-tiny.yaml");
const ONNX = path.join(ROOT, "test", "fixtures", "metrics", "onnx", "rgb-conv.onnx");
// the test cluster has no GPUs: no --gres lines
const SETS = ["--folds", "2", "--set", `eval.features=onnx:${ONNX}`, "--set", "launcher.gres=none"];
const cwd = tempDir("diffx-slurm-eval-");
const missing = slurmUnavailable();
const skip = missing ? `skipped: ${missing}` : false;

let cluster: SlurmCluster | null = null;
before(async () => {
  if (!missing) cluster = await startSlurmCluster();
});
after(async () => {
  await cluster?.stop();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function env(): NodeJS.ProcessEnv {
  return cluster?.env ?? {};
}

function readReport(runDir: string): EvalReport {
  return JSON.parse(fs.readFileSync(path.join(runDir, "eval", "report.json"), "utf8")) as EvalReport;
}

/** Numbers of a cell that must not depend on where or when it was computed. */
function numbers(r: EvalReport): unknown[] {
  return r.cells.map((c) => [c.fold, c.variant, c.fid, c.fid_ci, c.kid, c.kid_std, c.kid_ci, c.n_real, c.n_generated, c.seed, c.checkpoint_step]);
}

function status(runDir: string): EvalStatus {
  const r = runCli(["--json", "status", runDir], { cwd, env: env() });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as EvalStatus;
}

function row(s: EvalStatus, item: string): EvalStatus["rows"][number] {
  const found = s.rows.find((r) => r.item === item);
  assert.ok(found, `status has a row for ${item}`);
  return found;
}

/** The tails of the Slurm logs of an eval (eval/slurm/logs/) or a training (slurm/). */
function logs(runDir: string): string {
  const dirs = [path.join(runDir, "eval", "slurm", "logs"), path.join(runDir, "slurm")].filter((d) => fs.existsSync(d));
  const files = dirs.flatMap((d) => fs.readdirSync(d).filter((f) => f.endsWith(".log")).map((f) => path.join(d, f)));
  return files.map((f) => `--- ${f}\n${fs.readFileSync(f, "utf8").split("\n").slice(-20).join("\n")}`).join("\n") || "(no logs)";
}

/** Wait until `done()` holds; on a timeout fail with the eval's Slurm logs. */
async function waitFor(what: string, runDir: string, done: () => boolean, ms = 600_000, every = 250): Promise<void> {
  for (let t = 0; !done(); t += every) {
    if (t > ms) assert.fail(`${what}: not within ${ms / 1000} s\n${logs(runDir)}`);
    await sleep(every);
  }
}

/**
 * Pause the training in `dir` (its process, named by its run lock) once it has logged step 2:
 * a point well before its end (8 steps) however fast the machine. Returns the pid.
 */
async function pauseTraining(dir: string, logsOf: string): Promise<number> {
  await waitFor(`${dir} to log step 2`, logsOf, () => lastLoggedStep(dir) >= 2, 600_000, 20);
  const pid = Number(fs.readFileSync(path.join(dir, ".lock"), "utf8").split("\n")[0]);
  process.kill(pid, "SIGSTOP");
  return pid;
}

function evalFinished(runDir: string): boolean {
  const m = JSON.parse(fs.readFileSync(path.join(runDir, "manifest.json"), "utf8")) as { status: string };
  return m.status === "finished" && fs.existsSync(path.join(runDir, "eval", "report.json"));
}

function params(runDir: string, fold: number): Buffer {
  return fs.readFileSync(path.join(runDir, "eval", `fold-${fold}`, "train", "checkpoints", "step-8", "params.bin"));
}

test("--dry-run prints readable batch scripts (an array task per fold training, an afterok job for the report) and writes nothing", () => {
  const r = runCli(["eval", CONFIG, ...SETS, "--launcher", "slurm", "--dry-run", "--set", "launcher.partition=gpu", "--set", "launcher.time=4:00:00", "--set", "launcher.extra_args=[--qos=high]"], { cwd, env: { PATH: "/nonexistent" } });
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout;
  assert.match(out, /^# ---- .*eval\/slurm\/train\.sbatch {2}\(submit: sbatch --parsable .*train\.sbatch\)$/m);
  assert.match(out, /^# ---- .*eval\/slurm\/finish\.sbatch {2}\(submit: sbatch --parsable '--dependency=afterok:<training array job id>' --kill-on-invalid-dep=yes .*finish\.sbatch\)$/m);
  const [train, finish] = out.slice(0, out.indexOf("\n\ndry run:")).split(/^# ---- /m).slice(1).map((s) => s.slice(s.indexOf("\n") + 1));
  for (const line of ["#SBATCH --array=0-1", "#SBATCH --requeue", "#SBATCH --partition=gpu", "#SBATCH --time=4:00:00", "#SBATCH --qos=high", "# task 0: fold-0/train", "# task 1: fold-1/train", "TRAININGS=(fold-0/train fold-1/train)"]) {
    assert.ok(train.split("\n").includes(line), `train script has '${line}':\n${train}`);
  }
  assert.match(train, /^exec \S+ \S+bin\/diffx\.js task eval-train \S+ "\$\{TRAININGS\[\$SLURM_ARRAY_TASK_ID\]\}"$/m);
  assert.doesNotMatch(out, /--gres|setsid|nohup|&\s*$/m, "no GPUs asked for (launcher.gres: none); nothing put in the background");
  assert.match(finish, /^exec \S+ \S+bin\/diffx\.js task eval-finish \S+$/m);
  assert.ok(finish.split("\n").includes("#SBATCH --requeue"));
  assert.match(out, /dry run: nothing was written or submitted \(the dataset datasets\/ci-tiny-art is not built yet; the submission builds it here first/);
  // both are valid bash
  for (const [name, text] of [["train", train], ["finish", finish]]) {
    const file = path.join(cwd, `${name}.sbatch`);
    fs.writeFileSync(file, text);
    const check = spawnSync("/bin/bash", ["-n", file], { encoding: "utf8" });
    assert.equal(check.status, 0, `${name}: ${check.stderr}`);
    fs.rmSync(file);
  }
  assert.ok(!fs.existsSync(path.join(cwd, "runs")), "no run folder");
  assert.ok(!fs.existsSync(path.join(cwd, "datasets")), "no dataset built");
});

test("diffx train --launcher slurm --devices 8 --dry-run: one job holding 8 GPUs on one node, running the data-parallel training", () => {
  const r = runCli(["train", CONFIG, "--launcher", "slurm", "--devices", "8", "--dry-run"], { cwd });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split("\n");
  for (const line of ["#SBATCH --gres=gpu:8", "#SBATCH --nodes=1", "#SBATCH --ntasks=1", "#SBATCH --requeue"]) assert.ok(lines.includes(line), `${line}:\n${r.stdout}`);
  assert.match(r.stdout, /^ {2}exec \S+ \S+bin\/diffx\.js train --resume "\$RUN" --devices 8$/m);
  assert.match(r.stdout, /^ {2}exec \S+ \S+bin\/diffx\.js train "\$RUN\/slurm\/config\.yaml" --run-dir "\$RUN" --devices 8$/m);
  // on the CPU (--device cpu, or engine.device: cpu) the job asks for no GPUs
  const cpu = runCli(["train", CONFIG, "--launcher", "slurm", "--devices", "2", "--device", "cpu", "--dry-run"], { cwd });
  assert.equal(cpu.code, 0, cpu.stderr);
  assert.doesNotMatch(cpu.stdout, /--gres/);
  assert.match(cpu.stdout, /^ {2}exec \S+ \S+bin\/diffx\.js train --resume "\$RUN" --devices 2 --device cpu$/m);
  assert.ok(!fs.existsSync(path.join(cwd, "runs")), "no run folder");
});

test("without Slurm's sbatch: exit 2 naming the missing sbatch, at once, no run folder", () => {
  const noSlurm = { PATH: "/nonexistent" };
  for (const args of [["eval", CONFIG, ...SETS, "--launcher", "slurm"], ["train", CONFIG, "--launcher", "slurm", "--devices", "1"]]) {
    const r = runCli(args, { cwd, env: noSlurm, timeoutMs: 60_000 });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /'sbatch', which is not on PATH/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  }
  assert.ok(!fs.existsSync(path.join(cwd, "runs")), "no run folder");
});

let local = "";

test("reference: the local eval", { skip }, () => {
  local = path.join(cwd, "runs", "local");
  const r = runCli(["eval", CONFIG, ...SETS, "--run-dir", local], { cwd });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(evalFinished(local));
});

test("Slurm eval with fold 1 cancelled mid-training: status shows each cell; --resume resubmits only fold 1, which resumes from its checkpoint; the report equals the local one bit for bit", { skip }, async () => {
  assert.ok(local, "the local reference eval ran");
  const run = path.join(cwd, "runs", "slurm");
  const submitted = runCli(["--json", "eval", CONFIG, ...SETS, "--launcher", "slurm", "--run-dir", run], { cwd, env: env() });
  assert.equal(submitted.code, 0, submitted.stderr);
  const sub = JSON.parse(submitted.stdout) as { train: { job: string; tasks: { index: number; training: string }[] }; finish: { job: string; after: string[] } };
  assert.deepEqual(sub.train.tasks, [{ index: 0, training: "fold-0/train" }, { index: 1, training: "fold-1/train" }]);
  assert.deepEqual(sub.finish.after, [sub.train.job]);
  const task1 = `${sub.train.job}_1`;

  const train1 = path.join(run, "eval", "fold-1", "train");
  const pid = await pauseTraining(train1, run);

  const during = status(run);
  assert.equal(during.launcher, "slurm");
  const t1 = row(during, "fold-1/train");
  assert.equal(t1.state, "running");
  assert.match(t1.detail, /^step [2-7] of 8$/);
  assert.equal(t1.job, task1);
  assert.equal(t1.log, `eval/slurm/logs/train-${task1}.log`);
  assert.ok(fs.existsSync(path.join(run, t1.log)), "the log is where status says");
  assert.equal(row(during, "fold-0/train").job, `${sub.train.job}_0`);
  for (const cell of ["fold-0/ddim-4", "fold-1/ddim-2", "report"]) {
    assert.equal(row(during, cell).state, "queued", cell);
    assert.equal(row(during, cell).job, sub.finish.job);
  }
  const human = runCli(["status", run], { cwd, env: env() });
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, new RegExp(`^fold-1/train +running +step [2-7] of 8 +${task1} +\\S+train-${task1}\\.log$`, "m"));

  const cancel = spawnSync("scancel", [task1], { env: { ...process.env, ...env() }, encoding: "utf8" });
  assert.equal(cancel.status, 0, cancel.stderr);
  await waitFor("the cancelled task to end", run, () => !alive(pid));
  // fold 0 trains on; the final job, which needed every task to succeed, is cancelled by Slurm
  await waitFor("fold 0 to finish and the final job to be dropped", run, () => {
    const s = status(run);
    return row(s, "fold-0/train").state === "done" && row(s, "report").state === "failed";
  });
  const afterCancel = status(run);
  assert.equal(row(afterCancel, "fold-1/train").state, "failed");
  assert.match(row(afterCancel, "fold-1/train").detail, /^cancelled at step [2-7] of 8$/);
  assert.ok(!evalFinished(run));
  const stopped = JSON.parse(fs.readFileSync(path.join(train1, "manifest.json"), "utf8")) as { status: string; step: number };
  assert.ok(stopped.step < 8, `stopped before the end (step ${stopped.step})`);

  const resumed = runCli(["--json", "eval", "--resume", run], { cwd, env: env() });
  assert.equal(resumed.code, 0, resumed.stderr);
  const res = JSON.parse(resumed.stdout) as { train: { job: string; tasks: { index: number; training: string }[] }; finished: string[] };
  assert.deepEqual(res.train.tasks, [{ index: 1, training: "fold-1/train" }], "only the cancelled training is resubmitted");
  assert.deepEqual(res.finished, ["fold-0/train"]);
  await waitFor("the resumed eval to finish", run, () => evalFinished(run));

  const taskLog = fs.readFileSync(path.join(run, "eval", "slurm", "logs", `train-${res.train.job}_1.log`), "utf8");
  assert.match(taskLog, /fold-1\/train: resuming from its last checkpoint/);
  assert.deepEqual(params(run, 1), params(local, 1), "fold 1: the weights of the uninterrupted local training");
  assert.deepEqual(params(run, 0), params(local, 0), "fold 0: the weights of the local training");
  assert.deepEqual(numbers(readReport(run)), numbers(readReport(local)), "the report's numbers are the local eval's");
  assert.deepEqual(readReport(run).stats, readReport(local).stats);
  const done = status(run);
  assert.ok(done.rows.every((r) => r.state === "done"), JSON.stringify(done.rows));
  assert.equal(done.rows.length, 2 + 4 + 1, "2 trainings, 2 folds × 2 variants, the report");

  // a task that finds its output complete does nothing; a resume of a finished eval submits nothing
  const again = runCli(["task", "eval-train", run, "fold-1/train"], { cwd });
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr + again.stdout, /fold-1\/train: already finished \(8 steps\); nothing to do/);
  const none = runCli(["eval", "--resume", run], { cwd, env: env() });
  assert.equal(none.code, 0, none.stderr);
  assert.match(none.stdout, /nothing submitted: the eval is finished/);
});

test("diffx train --launcher slurm --devices 2: one job runs the data-parallel training; requeued mid-run (as on preemption), it resumes from its checkpoint to the weights of a local run", { skip }, async () => {
  const train = ["train", CONFIG, "--devices", "2", "--set", "launcher.gres=none"];
  const localRun = path.join(cwd, "runs", "train-local");
  const r = runCli([...train, "--run-dir", localRun], { cwd });
  assert.equal(r.code, 0, r.stderr);

  const run = path.join(cwd, "runs", "train-slurm");
  const submitted = runCli(["--json", ...train, "--launcher", "slurm", "--run-dir", run], { cwd, env: env() });
  assert.equal(submitted.code, 0, submitted.stderr);
  const { job } = JSON.parse(submitted.stdout) as { job: string };
  const log = path.join(run, "slurm", `train-${job}.log`);
  const trainLogs = (): string => (fs.existsSync(log) ? fs.readFileSync(log, "utf8") : "(no log)");
  const manifest = (): { status: string; step?: number; backend?: { workers?: number } } =>
    fs.existsSync(path.join(run, "manifest.json")) ? JSON.parse(fs.readFileSync(path.join(run, "manifest.json"), "utf8")) : { status: "none" };

  await pauseTraining(run, run);
  const requeue = spawnSync("scontrol", ["requeue", job], { env: { ...process.env, ...env() }, encoding: "utf8" });
  assert.equal(requeue.status, 0, requeue.stderr);
  await waitFor("the requeued training to finish", run, () => manifest().status === "finished");
  assert.equal(manifest().step, 8);
  assert.equal(manifest().backend?.workers, 2, "two data-parallel workers inside the job");
  // the log (appended by both incarnations of the job): stopped at step k, then on from k
  const text = trainLogs();
  const stopped = /CANCELLED AT .* DUE TO JOB REQUEUE[^]*SIGTERM received[^]*interrupted at step ([2-7]);[^]*?training on 2 workers: (\d)\/8/.exec(text);
  assert.ok(stopped, `requeued, stopped, resumed:\n${text}`);
  assert.equal(stopped[2], stopped[1], "the second incarnation starts where the first stopped");
  const bin = (d: string) => fs.readFileSync(path.join(d, "checkpoints", "step-8", "params.bin"));
  assert.deepEqual(bin(run), bin(localRun), "the weights of the uninterrupted local run");
});
