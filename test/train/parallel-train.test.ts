/**
 * Data-parallel training on CPU workers: the run does not depend on the number of workers
 * (same global batch and seed ⇒ same loss curve and parameters within float tolerance); a
 * killed worker ends the run with a message naming it and leaves the checkpoint intact; a run
 * resumes with a different number of workers.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { spawn, execFileSync } from "node:child_process";
import { runCli, tempDir, ROOT, BIN } from "../helpers/cli.js";

const TINY = path.join(ROOT, "configs", "ci-tiny.yaml");

function config(dir: string, body: string): string {
  const f = path.join(dir, "c.yaml");
  fs.writeFileSync(f, `extends: ${TINY}\n${body}`);
  return f;
}

function losses(run: string): number[] {
  return fs
    .readFileSync(path.join(run, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => (JSON.parse(l) as { loss: number }).loss);
}

function floats(file: string): Float32Array {
  const b = fs.readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

test("--devices 2 and --devices 1 give the same loss curve and parameters after 20 steps", () => {
  const dir = tempDir();
  const cfg = config(dir, "train: { steps: 20, batch_size: 4, checkpoint_every: 20, log_every: 1, eval_every: 20, sample_grid: 0 }\n");
  const one = runCli(["train", cfg, "--devices", "1", "--run-dir", "one"], { cwd: dir });
  assert.equal(one.code, 0, one.stderr);
  const two = runCli(["train", cfg, "--devices", "2", "--run-dir", "two"], { cwd: dir });
  assert.equal(two.code, 0, two.stderr);
  const a = losses(path.join(dir, "one")), b = losses(path.join(dir, "two"));
  assert.equal(a.length, 20);
  assert.equal(b.length, 20);
  a.forEach((x, i) => assert.ok(Math.abs(x - b[i]) <= 1e-5 * Math.abs(x), `step ${i + 1}: ${x} vs ${b[i]}`));
  const pa = floats(path.join(dir, "one", "checkpoints", "step-20", "params.bin"));
  const pb = floats(path.join(dir, "two", "checkpoints", "step-20", "params.bin"));
  assert.equal(pa.length, pb.length);
  let num = 0, den = 0;
  for (let i = 0; i < pa.length; i++) {
    num += (pa[i] - pb[i]) ** 2;
    den += pa[i] ** 2;
  }
  assert.ok(Math.sqrt(num / den) <= 1e-5, `parameters differ by ${Math.sqrt(num / den)} (relative L2)`);
  const m = JSON.parse(fs.readFileSync(path.join(dir, "two", "manifest.json"), "utf8")) as { backend: { workers: number; devices: string[] } };
  assert.equal(m.backend.workers, 2);
  assert.equal(m.backend.devices.length, 2);
  for (const d of m.backend.devices) assert.match(d, /^cpu: \S/, "device names carry the CPU model");
});

test("--devices larger than the CPU cores is refused with exit 2", () => {
  const dir = tempDir();
  const cfg = config(dir, "train: { steps: 2 }\n");
  const r = runCli(["train", cfg, "--devices", "64", "--run-dir", "x"], { cwd: dir });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--devices 64/);
});

test("a killed worker stops the run naming it; the checkpoint is intact and --resume works with 1 worker", async () => {
  const dir = tempDir();
  const cfg = config(dir, "train: { steps: 300, batch_size: 4, checkpoint_every: 2, log_every: 1, eval_every: 1000, sample_grid: 0 }\n");
  const child = spawn(process.execPath, [BIN, "train", cfg, "--devices", "2", "--run-dir", "run"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  child.stdout.on("data", () => {});
  const ckpt = path.join(dir, "run", "checkpoints");
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline && !(fs.existsSync(ckpt) && fs.readdirSync(ckpt).some((d) => /^step-\d+$/.test(d)))) await new Promise((r) => setTimeout(r, 200));
  const workers = execFileSync("pgrep", ["-P", String(child.pid)]).toString().trim().split("\n").map(Number);
  assert.equal(workers.length, 2, "two worker processes");
  process.kill(workers[1], "SIGKILL");
  const code = await new Promise<number | null>((res) => child.on("exit", (c) => res(c)));
  assert.equal(code, 1, err);
  assert.match(err, /rank \d \(CPU\)/, "names the worker and its device");
  assert.doesNotMatch(err, /\n\s+at /);
  // no worker survives its parent
  for (const pid of workers) assert.throws(() => process.kill(pid, 0));
  // resume a few steps past the newest checkpoint (how far the run got before the kill depends on the machine's speed)
  const last = Math.max(...fs.readdirSync(ckpt).map((d) => /^step-(\d+)$/.exec(d)).filter((m): m is RegExpExecArray => m !== null).map((m) => Number(m[1])));
  const target = last + 4;
  const resumed = runCli(["train", "--resume", "run", "--devices", "1", "--until-step", String(target)], { cwd: dir });
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stdout, new RegExp(`stopped at step ${target} of 300`));
});
