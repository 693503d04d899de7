/**
 * Losing the terminal through the real CLI (issue 21, items 2 and 8).
 *
 * A closed stdout (`diffx train … | head -2`) does not stop the work: diffx warns once on
 * stderr and carries on with the output dropped, so the run finishes as it would have (status
 * finished, every metrics record, no lock left) and sampling writes every PNG and its
 * samples.jsonl, and an eval writes its report. SIGHUP (a closed terminal or SSH session) stops training like SIGTERM: a
 * checkpoint at the step reached, status interrupted, the lock released, exit 130, resumable.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { BIN, ROOT, runCli, tempDir } from "../helpers/cli.js";
import { writeConfig } from "./helpers.js";

const cwd = fs.realpathSync(tempDir("diffx-lost-output-"));
const STEPS = 12;
const BODY = `name: lost\ndataset: { kind: art, name: lost-art, n: 6, image_size: 16, seed: 3 }\ntrain: { steps: ${STEPS}, batch_size: 2, checkpoint_every: 4, eval_every: 1000, log_every: 1, sample_grid: 0 }\n`;
let config = "";

interface Running {
  child: ChildProcess;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Start diffx; with `closeStdout` the read end of its stdout is closed at once (as `| head` does when done). */
function start(args: string[], closeStdout: boolean): Running {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  if (closeStdout) child.stdout?.destroy();
  else child.stdout?.resume();
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("close", (code, signal) => resolve({ code, signal })));
  return { child, stderr: () => err, exit };
}

interface Manifest {
  status: string;
  step: number;
}

function manifestOf(dir: string): Manifest {
  return JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8")) as Manifest;
}

function metricSteps(dir: string): number[] {
  return fs
    .readFileSync(path.join(dir, "metrics.jsonl"), "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => (JSON.parse(l) as { step: number }).step);
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

before(() => {
  config = writeConfig(cwd, "lost.yaml", BODY);
});

test("train with its stdout closed (| head): finishes every step, warns once, exit 0, no lock left", async () => {
  const dir = path.join(cwd, "runs", "piped");
  const p = start(["train", config, "--run-dir", dir], true);
  const end = await p.exit;
  assert.equal(end.code, 0, p.stderr());
  assert.equal(p.stderr().match(/standard output was closed \(EPIPE\); diffx carries on without it/g)?.length, 1, p.stderr());
  assert.doesNotMatch(p.stderr(), /internal error/);
  assert.deepEqual([manifestOf(dir).status, manifestOf(dir).step], ["finished", STEPS]);
  assert.deepEqual(metricSteps(dir), range(STEPS), "every metrics record");
  assert.ok(!fs.existsSync(path.join(dir, ".lock")), "the lock is released");
});

test("sample with its stdout closed: every PNG, samples.jsonl and the manifest are written", async () => {
  const run = path.join(cwd, "runs", "piped");
  const out = path.join(cwd, "samples-piped");
  const p = start(["sample", run, "--prompt", "a red circle", "--n", "5", "--batch-size", "2", "--out", out], true);
  const end = await p.exit;
  assert.equal(end.code, 0, p.stderr());
  assert.match(p.stderr(), /standard output was closed/);
  const records = fs.readFileSync(path.join(out, "samples.jsonl"), "utf8").trim().split("\n");
  assert.equal(records.length, 5);
  assert.equal(fs.readdirSync(out).filter((f) => /^sample-\d+\.png$/.test(f)).length, 5);
  assert.equal(manifestOf(out).status, "finished");
});

test("eval with its stdout closed (| head -1): every fold trains and is scored, the report is written, exit 0", async () => {
  const onnx = path.join(ROOT, "test", "fixtures", "metrics", "onnx", "rgb-conv.onnx");
  const cfg = writeConfig(
    cwd,
    "eval.yaml",
    `${BODY.replace(`steps: ${STEPS}`, "steps: 2")}eval: { folds: 2, samples_per_fold: 2, bootstrap: 0, features: "onnx:${onnx}", variants: [{ name: only }] }\nsample: { steps: 2 }\n`,
  );
  const dir = path.join(cwd, "runs", "eval-piped");
  const p = start(["eval", cfg, "--run-dir", dir], true);
  const end = await p.exit;
  assert.equal(end.code, 0, p.stderr());
  assert.match(p.stderr(), /standard output was closed/);
  assert.doesNotMatch(p.stderr(), /internal error/);
  const report = JSON.parse(fs.readFileSync(path.join(dir, "eval", "report.json"), "utf8")) as { cells?: unknown[] };
  assert.ok(Array.isArray(report.cells) && report.cells.length === 2, "both folds are in the report");
  assert.ok(!fs.existsSync(path.join(dir, ".lock")), "the lock is released");
});

test("SIGHUP during training stops it like SIGTERM: checkpoint, status interrupted, exit 130, lock released; --resume finishes", async () => {
  const dir = path.join(cwd, "runs", "hangup");
  const body = BODY.replace(`steps: ${STEPS}`, "steps: 400").replace("checkpoint_every: 4", "checkpoint_every: 1");
  const cfg = writeConfig(cwd, "hangup.yaml", body);
  const p = start(["train", cfg, "--run-dir", dir], false);
  const ckpts = path.join(dir, "checkpoints");
  const t0 = Date.now();
  while (!(fs.existsSync(ckpts) && fs.readdirSync(ckpts).some((d) => /^step-\d+$/.test(d))) && Date.now() - t0 < 120_000) await new Promise((r) => setTimeout(r, 20));
  p.child.kill("SIGHUP");
  const end = await p.exit;
  assert.equal(end.code, 130, p.stderr());
  assert.match(p.stderr(), /SIGHUP received/);
  const m = manifestOf(dir);
  assert.equal(m.status, "interrupted");
  assert.ok(m.step > 0 && m.step < 400, `stopped part-way (step ${m.step})`);
  assert.ok(fs.existsSync(path.join(ckpts, `step-${m.step}`, "state.json")), "the step reached is checkpointed");
  assert.ok(!fs.existsSync(path.join(dir, ".lock")), "the lock is released");
  const r = runCli(["-q", "train", "--resume", dir], { cwd });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual([manifestOf(dir).status, manifestOf(dir).step], ["finished", 400]);
});
