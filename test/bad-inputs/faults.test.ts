/**
 * Faults through the real CLI: SIGKILL at seeded moments while checkpoints are written (every
 * step), Ctrl-C during training, sampling and eval, a second process on the same run folder,
 * and a full disk (a small tmpfs; the atomic writer's fault hook in-process as well). After each
 * fault the checkpoints present are complete and loadable, the run resumes, and the resumed
 * run ends exactly where an uninterrupted one does.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BIN, ROOT, runCli, tempDir } from "../helpers/cli.js";
import { Rng } from "../../src/engine/rng.js";
import { setWriteFaultInjector, writeFileAtomic } from "../../src/engine/atomic.js";
import { listCheckpoints, readCheckpoint, writeCheckpoint, CHECKPOINT_FORMAT, type Checkpoint } from "../../src/train/checkpoint.js";
import { RuntimeFailure } from "../../src/errors.js";
import { assertRefused, runCliAsync, snapshot, snapshotDiff, writeConfig } from "./helpers.js";

const cwd = fs.realpathSync(tempDir("diffx-faults-"));
const STEPS = 80; // enough that a run killed or interrupted several times still has steps left (onnx gradients make a step take milliseconds)
const BODY = `name: fault\ndataset: { kind: art, name: fault-art, n: 6, image_size: 16, seed: 3 }\ntrain: { steps: ${STEPS}, batch_size: 2, checkpoint_every: 1, eval_every: 1000, log_every: 1, sample_grid: 0 }\n`;
const KILLED = path.join(cwd, "runs", "killed");
const STRAIGHT = path.join(cwd, "runs", "straight");
const TENSORS = ["params", "ema", "adam_m", "adam_v"] as const;
let config = "";
let straight: Promise<void> = Promise.resolve();

interface Running {
  child: ChildProcess;
  out: { stdout: string; stderr: string };
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(args: string[]): Running {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] });
  const out = { stdout: "", stderr: "" };
  child.stdout?.on("data", (d: Buffer) => (out.stdout += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (out.stderr += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("close", (code, signal) => resolve({ code, signal })));
  return { child, out, exit };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `pred` every `everyMs`; false if `running` ended or `timeoutMs` passed first. */
async function waitFor(pred: () => boolean, running: Running | null, timeoutMs = 120_000, everyMs = 20): Promise<boolean> {
  let ended = false;
  void running?.exit.then(() => (ended = true));
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (pred()) return true;
    if (ended) return pred();
    await sleep(everyMs);
  }
  return false;
}

function stepFolders(run: string): number[] {
  const root = path.join(run, "checkpoints");
  if (!fs.existsSync(root)) return [];
  return fs
    .readdirSync(root)
    .map((n) => /^step-(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

/** Every checkpoints/step-N folder present is complete: state.json parses and says step N, each .bin is as long as its index says. */
function assertCheckpointsComplete(run: string, label: string): number[] {
  const steps = stepFolders(run);
  for (const step of steps) {
    const dir = path.join(run, "checkpoints", `step-${step}`);
    const state = JSON.parse(fs.readFileSync(path.join(dir, "state.json"), "utf8")) as { format: string; step: number };
    assert.equal(state.format, CHECKPOINT_FORMAT, `${label}: ${dir}`);
    assert.equal(state.step, step, `${label}: ${dir}/state.json`);
    for (const t of TENSORS) {
      const index = JSON.parse(fs.readFileSync(path.join(dir, `${t}.json`), "utf8")) as Record<string, { offset: number; length: number }>;
      const floats = Math.max(...Object.values(index).map((e) => e.offset + e.length));
      assert.equal(fs.statSync(path.join(dir, `${t}.bin`)).size, 4 * floats, `${label}: ${dir}/${t}.bin`);
    }
  }
  return steps;
}

function sha(file: string): string {
  return createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}

/** metrics.jsonl without the timing field. */
function lossCurve(run: string): unknown[] {
  return fs
    .readFileSync(path.join(run, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => {
      const { steps_per_s: _t, ...rest } = JSON.parse(l) as Record<string, unknown>;
      return rest;
    });
}

before(async () => {
  config = writeConfig(cwd, "fault.yaml", BODY);
  const r = runCli(["-q", "data", "build", config], { cwd });
  assert.equal(r.code, 0, r.stderr);
  // the uninterrupted reference trains alongside the faulted run
  straight = runCliAsync(["-q", "train", config, "--run-dir", STRAIGHT], cwd).then((s) => assert.equal(s.code, 0, s.stderr));
});

after(async () => {
  await straight.catch(() => {});
});

/** A checkpoint being written right now (its temp folder exists). */
function writingCheckpoint(run: string): boolean {
  const root = path.join(run, "checkpoints");
  return fs.existsSync(root) && fs.readdirSync(root).some((n) => /^\.step-\d+\.tmp-/.test(n));
}

test("SIGKILL at seeded moments, half of them inside a checkpoint write: every step-N folder present stays complete", async () => {
  const rng = new Rng(20261129, "kill-moments");
  let killed = 0;
  let duringWrite = 0;
  for (let round = 0; round < 4; round++) {
    const before = stepFolders(KILLED);
    const last = before.length ? before[before.length - 1] : 0;
    if (last >= STEPS - 4) break;
    const p = start(round === 0 ? ["train", config, "--run-dir", KILLED] : ["train", "--resume", KILLED]);
    // training has started once a checkpoint newer than the last one exists
    const started = await waitFor(() => stepFolders(KILLED).some((s) => s > last), p);
    assert.ok(started, `round ${round}: training did not start\n${p.out.stderr}`);
    if (round % 2 === 0) {
      // the next checkpoint write: kill as soon as its temp folder appears (round 2: 0–3 ms later)
      await waitFor(() => writingCheckpoint(KILLED), p, 60_000, 1);
      if (round > 0) await sleep(rng.int(4));
    } else {
      await sleep(rng.int(400));
    }
    if (writingCheckpoint(KILLED)) duringWrite++;
    p.child.kill("SIGKILL");
    const end = await p.exit;
    if (end.signal === "SIGKILL") killed++;
    const steps = assertCheckpointsComplete(KILLED, `after kill ${round}`);
    // writeCheckpoint keeps the newest 3, pruning after the rename: a kill between the two leaves a 4th (the next write prunes it)
    assert.ok(steps.length > 0 && steps.length <= 4, `round ${round}: checkpoints ${steps.join(",")}`);
    JSON.parse(fs.readFileSync(path.join(KILLED, "manifest.json"), "utf8")); // never half-written
  }
  assert.ok(killed >= 3, `only ${killed} of the processes were still running when killed`);
  assert.ok(duringWrite >= 1, "no kill landed inside a checkpoint write");
  // the newest checkpoint loads with diffx's own reader too
  const latest = stepFolders(KILLED).pop() as number;
  assert.equal(readCheckpoint(path.join(KILLED, "checkpoints", `step-${latest}`)).state.step, latest);
});

/** The pid on the first line of a run lock (the lines after it name the host and the Slurm job). */
function lockPid(file: string): number {
  return Number(fs.readFileSync(file, "utf8").split("\n")[0]);
}

test("two processes on one run folder: the second is refused by the lock, naming the first one's pid", async () => {
  // --resume twice
  const a = start(["train", "--resume", KILLED]);
  const lock = path.join(KILLED, ".lock");
  assert.ok(await waitFor(() => fs.existsSync(lock) && lockPid(lock) === a.child.pid, a), a.out.stderr);
  const b = runCli(["train", "--resume", KILLED], { cwd });
  assertRefused(b, { code: 2, message: [new RegExp(`runs/killed: in use by another diffx process \\(pid ${a.child.pid}\\)`)] }, "second --resume");
  // the first one goes on undisturbed; stop it with Ctrl-C once it has trained a step
  const before = stepFolders(KILLED).pop() as number;
  assert.ok(await waitFor(() => stepFolders(KILLED).some((s) => s > before), a));
  a.child.kill("SIGINT");
  const end = await a.exit;
  assert.equal(end.code, 130, a.out.stderr);

  // the same --run-dir twice
  const dir = path.join(cwd, "runs", "shared");
  const c = start(["train", config, "--run-dir", dir]);
  const lock2 = path.join(dir, ".lock");
  assert.ok(await waitFor(() => fs.existsSync(lock2) && lockPid(lock2) === c.child.pid, c), c.out.stderr);
  const d = runCli(["train", config, "--run-dir", dir], { cwd });
  assertRefused(d, { code: 2, message: [new RegExp(`runs/shared: in use by another diffx process \\(pid ${c.child.pid}\\)`)] }, "second --run-dir");
  c.child.kill("SIGKILL");
  await c.exit;
});

test("Ctrl-C during training: exit 130, a checkpoint at the step reached, status interrupted", async () => {
  const p = start(["train", "--resume", KILLED]);
  const before = stepFolders(KILLED).pop() as number;
  assert.ok(await waitFor(() => stepFolders(KILLED).some((s) => s > before), p), p.out.stderr);
  p.child.kill("SIGINT");
  const end = await p.exit;
  assert.equal(end.code, 130, p.out.stderr);
  assert.match(p.out.stderr, /SIGINT received/);
  const m = /interrupted at step (\d+); continue with: diffx train --resume /.exec(p.out.stdout);
  assert.ok(m, p.out.stdout);
  const steps = assertCheckpointsComplete(KILLED, "after Ctrl-C");
  assert.equal(steps[steps.length - 1], Number(m[1]), "the interrupted step is checkpointed");
  const manifest = JSON.parse(fs.readFileSync(path.join(KILLED, "manifest.json"), "utf8")) as { status: string; step: number };
  assert.deepEqual([manifest.status, manifest.step], ["interrupted", Number(m[1])]);
  assert.ok(!fs.existsSync(path.join(KILLED, ".lock")), "the lock is released");
});

test("after the kills and Ctrl-C, --resume ends exactly where an uninterrupted run does", async () => {
  const r = runCli(["train", "--resume", KILLED], { cwd });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`finished ${STEPS} steps`));
  await straight;
  for (const t of TENSORS) assert.equal(sha(path.join(KILLED, "checkpoints", `step-${STEPS}`, `${t}.bin`)), sha(path.join(STRAIGHT, "checkpoints", `step-${STEPS}`, `${t}.bin`)), `${t}.bin`);
  assert.deepEqual(lossCurve(KILLED), lossCurve(STRAIGHT), "the same metrics.jsonl, one line per step");
  const leftovers = fs.readdirSync(path.join(KILLED, "checkpoints")).filter((n) => n.startsWith("."));
  assert.deepEqual(leftovers, [], "no temp or trash folders left");
  const manifest = JSON.parse(fs.readFileSync(path.join(KILLED, "manifest.json"), "utf8")) as { status: string; outputs: Record<string, string> };
  assert.equal(manifest.status, "finished");
  assert.deepEqual(Object.keys(manifest.outputs).filter((f) => /\.tmp-|\.trash-/.test(f)), [], "the manifest lists no half-written files");
});

async function interruptSampling(engine: "onnx" | "tfjs"): Promise<void> {
  await straight;
  const out = path.join(cwd, `interrupted-samples-${engine}`);
  const runBefore = snapshot(STRAIGHT);
  const p = start(["sample", STRAIGHT, "--prompt", "a red circle", "--n", "60", "--batch-size", "1", "--steps", "2", "--engine", engine, "--out", out]);
  assert.ok(await waitFor(() => /sampling: /.test(p.out.stdout), p), p.out.stderr);
  p.child.kill("SIGINT");
  const end = await p.exit;
  assert.equal(end.code, 130, `${p.out.stdout}\n${p.out.stderr}`);
  assert.match(p.out.stderr, /SIGINT received/);
  const m = /interrupted: wrote (\d+) of 60 samples/.exec(p.out.stdout);
  assert.ok(m, p.out.stdout);
  const recs = fs
    .readFileSync(path.join(out, "samples.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { file: string; sha256: string });
  assert.equal(recs.length, Number(m[1]));
  for (const rec of recs) assert.equal(sha(path.join(out, rec.file)), rec.sha256);
  assert.equal(fs.readdirSync(out).filter((f) => /^sample-\d+\.png$/.test(f)).length, recs.length, "no unrecorded sample files");
  assert.deepEqual(snapshotDiff(runBefore, snapshot(STRAIGHT)), [], "the run folder is untouched");
}

test("Ctrl-C during sampling (onnx engine): exit 130, the samples written so far are complete and recorded", async () => {
  await interruptSampling("onnx");
});

test("Ctrl-C during sampling (tfjs engine): exit 130, the samples written so far are complete and recorded", async () => {
  await interruptSampling("tfjs");
});

test("Ctrl-C during eval: exit 130 with the --resume command; --resume then finishes the report", async () => {
  const onnx = path.join(ROOT, "test", "fixtures", "metrics", "onnx", "rgb-conv.onnx");
  const evalConfig = writeConfig(
    cwd,
    "eval.yaml",
    `${BODY.replace(`steps: ${STEPS}`, "steps: 3")}eval: { folds: 2, samples_per_fold: 2, bootstrap: 0, features: "onnx:${onnx}", variants: [{ name: only }] }\nsample: { steps: 2 }\n`,
  );
  const dir = path.join(cwd, "runs", "eval");
  const p = start(["eval", evalConfig, "--run-dir", dir]);
  // stop once the first fold's training has written a checkpoint
  assert.ok(
    await waitFor(() => fs.existsSync(dir) && fs.readdirSync(dir, { recursive: true }).some((f) => /checkpoints[\\/]step-\d+$/.test(String(f))), p),
    p.out.stderr,
  );
  p.child.kill("SIGINT");
  const end = await p.exit;
  assert.equal(end.code, 130, `${p.out.stdout}\n${p.out.stderr}`);
  assert.match(p.out.stdout, /interrupted; continue with: diffx eval --resume /);
  assert.doesNotMatch(p.out.stderr, /\n\s+at /);
  const r = runCli(["eval", "--resume", dir], { cwd });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(fs.existsSync(path.join(dir, "eval", "report.json")), "report written");
});

function tmpfsPossible(dir: string): boolean {
  if (os.platform() !== "linux") return false;
  fs.mkdirSync(dir, { recursive: true });
  const r = spawnSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir], { encoding: "utf8" });
  if (r.status !== 0) return false;
  spawnSync("umount", [dir]);
  return true;
}

test("full disk (a small tmpfs): exit 1 with 'disk full', earlier checkpoints intact; --resume after freeing space finishes", async (t) => {
  const mnt = path.join(cwd, "small-disk");
  if (!tmpfsPossible(mnt)) {
    t.skip("mounting a tmpfs is not permitted here; the in-process ENOSPC test below covers the writer");
    return;
  }
  await straight;
  // room for the run's small files and two checkpoints, not three
  const ckpt = fs.readdirSync(path.join(STRAIGHT, "checkpoints", `step-${STEPS}`)).reduce((s, f) => s + fs.statSync(path.join(STRAIGHT, "checkpoints", `step-${STEPS}`, f)).size, 0);
  const size = Math.ceil((2.4 * ckpt + 64 * 1024) / 4096) * 4096;
  const m = spawnSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", mnt], { encoding: "utf8" });
  assert.equal(m.status, 0, m.stderr);
  try {
    const run = path.join(mnt, "run");
    const r = runCli(["train", config, "--run-dir", run], { cwd });
    assertRefused(r, { code: 1, message: [/disk full while writing checkpoint .*small-disk\/run\/checkpoints\/step-3 \(ENOSPC\); the previous checkpoint \(step 2\) is intact/] }, "full disk");
    assert.deepEqual(assertCheckpointsComplete(run, "full disk"), [1, 2]);
    const manifest = JSON.parse(fs.readFileSync(path.join(run, "manifest.json"), "utf8")) as { status: string; checkpoints: Record<string, Record<string, string>> };
    for (const step of [1, 2]) {
      for (const [f, hash] of Object.entries(manifest.checkpoints[String(step)])) assert.equal(sha(path.join(run, "checkpoints", `step-${step}`, f)), hash, `step-${step}/${f} as recorded`);
    }
    assert.ok(["failed", "running"].includes(manifest.status));
    assert.deepEqual(fs.readdirSync(path.join(run, "checkpoints")).filter((n) => n.startsWith(".")), [], "the half-written checkpoint is removed");
    // more room: the run continues from step 2 and finishes
    assert.equal(spawnSync("mount", ["-o", "remount,size=8m", mnt]).status, 0);
    const resumed = runCli(["train", "--resume", run], { cwd });
    assert.equal(resumed.code, 0, resumed.stderr);
    for (const tname of TENSORS) assert.equal(sha(path.join(run, "checkpoints", `step-${STEPS}`, `${tname}.bin`)), sha(path.join(STRAIGHT, "checkpoints", `step-${STEPS}`, `${tname}.bin`)));
  } finally {
    spawnSync("umount", ["-l", mnt]);
  }
});

test("ENOSPC injected into the atomic writer (in-process): the previous file and checkpoint stay intact, the message says disk full", () => {
  const dir = tempDir("diffx-enospc-");
  const file = path.join(dir, "kept.json");
  writeFileAtomic(file, "old\n");
  const enospc = (): never => {
    throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
  };
  setWriteFaultInjector(enospc);
  try {
    assert.throws(() => writeFileAtomic(file, "new\n"), (e: unknown) => e instanceof RuntimeFailure && /disk full while writing .*kept\.json \(ENOSPC\)/.test(e.message));
  } finally {
    setWriteFaultInjector(null);
  }
  assert.equal(fs.readFileSync(file, "utf8"), "old\n");
  assert.deepEqual(fs.readdirSync(dir), ["kept.json"], "no temp file left");

  // a checkpoint write that runs out of space half-way
  const tensor = (v: number) => new Map([["w", { shape: [2, 3], data: new Float32Array(6).fill(v) }]]);
  const ckpt = (step: number): Omit<Checkpoint, "dir"> => ({
    state: { format: CHECKPOINT_FORMAT, step, optimizer_step: step, data: { epoch: 0, offset: step }, rng: { seed: 1, derivation: "test" }, loss: null },
    params: tensor(step),
    ema: tensor(step),
    adamM: tensor(0),
    adamV: tensor(0),
  });
  writeCheckpoint(dir, ckpt(1));
  let writes = 0;
  setWriteFaultInjector(() => {
    if (++writes === 4) enospc();
  });
  try {
    assert.throws(() => writeCheckpoint(dir, ckpt(2)), (e: unknown) => e instanceof RuntimeFailure && /disk full while writing checkpoint .*step-2 \(ENOSPC\); the previous checkpoint \(step 1\) is intact/.test(e.message));
  } finally {
    setWriteFaultInjector(null);
  }
  assert.deepEqual(listCheckpoints(dir), [1]);
  assert.deepEqual(fs.readdirSync(path.join(dir, "checkpoints")), ["step-1"], "the temp folder is removed");
  assert.deepEqual([...readCheckpoint(path.join(dir, "checkpoints", "step-1")).params.get("w")!.data], [1, 1, 1, 1, 1, 1]);
});
