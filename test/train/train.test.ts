/**
 * diffx train end to end through the real CLI: a tiny model overfits a handful of pairs (text
 * and sketch conditioning), N straight steps equal N/2 + --resume N/2 bit for bit (wasm and
 * cpu), NaN loss stops with the last checkpoint intact, Ctrl-C checkpoints and resumes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { spawn } from "node:child_process";
import { runCli, tempDir, ROOT, BIN } from "../helpers/cli.js";

const TINY = path.join(ROOT, "configs", "ci-tiny.yaml");

function writeConfig(dir: string, name: string, body: string): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, `extends: ${TINY}\n${body}`);
  return f;
}

interface Metric {
  step: number;
  loss: number;
  kl_bpd?: number;
  steps_per_s: number;
}

function metrics(run: string): Metric[] {
  return fs
    .readFileSync(path.join(run, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Metric);
}

function fileBytes(run: string, rel: string): Buffer {
  return fs.readFileSync(path.join(run, rel));
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

for (const kind of ["text", "sketch"] as const) {
  test(`a tiny ${kind}-conditioned model overfits four pairs (loss falls by a large factor)`, () => {
    const dir = tempDir();
    const dataset = kind === "text" ? "{ kind: art, name: over-art, n: 4, image_size: 16, seed: 5 }" : "{ kind: sketch2render, name: over-s2r, n: 4, image_size: 16, seed: 5 }";
    const cfg = writeConfig(
      dir,
      "over.yaml",
      `name: overfit\ndataset: ${dataset}\nmodel: { conditioning: ${kind} }\ntrain: { steps: 150, batch_size: 4, lr: 3.0e-3, warmup: 10, log_every: 10, eval_every: 75, checkpoint_every: 150, cond_dropout: 0.0, sample_grid: 4 }\n`,
    );
    const r = runCli(["train", cfg, "--run-dir", "run"], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    const m = metrics(path.join(dir, "run"));
    assert.equal(m[m.length - 1].step, 150);
    const first = mean(m.slice(0, 2).map((x) => x.loss));
    const last = mean(m.slice(-3).map((x) => x.loss));
    assert.ok(first / last > 2.5, `loss fell only from ${first} to ${last}`);
    assert.ok(m.some((x) => typeof x.kl_bpd === "number" && Number.isFinite(x.kl_bpd)), "VLB term logged");
    for (const f of ["plots/loss.svg", "plots/loss.png", "samples/grid.png", "config.yaml", "manifest.json", "checkpoints/step-150/params.bin"]) {
      assert.ok(fs.existsSync(path.join(dir, "run", f)), `${f} written`);
    }
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, "run", "manifest.json"), "utf8")) as { status: string; outputs: Record<string, string>; backend: { name: string } };
    assert.equal(manifest.status, "finished");
    assert.equal(manifest.backend.name, "wasm");
    assert.ok(manifest.outputs["checkpoints/step-150/params.bin"], "manifest hashes the checkpoint");
  });
}

for (const backend of ["wasm", "cpu"] as const) {
  test(`${backend}: 8 straight steps == 4 steps + --resume 4 (bit-identical)`, () => {
    const dir = tempDir();
    const cfg = writeConfig(dir, "r.yaml", "name: resume\ntrain: { steps: 8, checkpoint_every: 4, log_every: 1, eval_every: 4, sample_grid: 0 }\n");
    const a = runCli(["--backend", backend, "train", cfg, "--run-dir", "a"], { cwd: dir });
    assert.equal(a.code, 0, a.stderr);
    // the second run stops after step 4 of the same 8-step schedule, then resumes in a new process
    const b1 = runCli(["--backend", backend, "train", cfg, "--run-dir", "b", "--until-step", "4"], { cwd: dir });
    assert.equal(b1.code, 0, b1.stderr);
    assert.match(b1.stdout, /stopped at step 4 of 8/);
    const b2 = runCli(["--backend", backend, "train", "--resume", "b"], { cwd: dir });
    assert.equal(b2.code, 0, b2.stderr);
    assert.deepEqual(fileBytes(path.join(dir, "b"), "checkpoints/step-8/params.bin"), fileBytes(path.join(dir, "a"), "checkpoints/step-8/params.bin"));
    assert.deepEqual(fileBytes(path.join(dir, "b"), "checkpoints/step-8/ema.bin"), fileBytes(path.join(dir, "a"), "checkpoints/step-8/ema.bin"));
    assert.deepEqual(fileBytes(path.join(dir, "b"), "checkpoints/step-8/adam_v.bin"), fileBytes(path.join(dir, "a"), "checkpoints/step-8/adam_v.bin"));
    const strip = (ms: Metric[]) => ms.map(({ steps_per_s: _s, ...rest }) => rest);
    assert.deepEqual(strip(metrics(path.join(dir, "b"))), strip(metrics(path.join(dir, "a"))), "same loss curve");
  });
}

test("resume refuses a finished run, a missing run and an edited config", () => {
  const dir = tempDir();
  const cfg = writeConfig(dir, "f.yaml", "name: fin\ntrain: { steps: 2, checkpoint_every: 2, sample_grid: 0 }\n");
  assert.equal(runCli(["train", cfg, "--run-dir", "done"], { cwd: dir }).code, 0);
  const fin = runCli(["train", "--resume", "done"], { cwd: dir });
  assert.equal(fin.code, 2);
  assert.match(fin.stderr, /already finished/);
  const missing = runCli(["train", "--resume", "nowhere"], { cwd: dir });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /nowhere: no such run folder/);
  const conf = path.join(dir, "done", "config.yaml");
  fs.writeFileSync(conf, fs.readFileSync(conf, "utf8").replace("steps: 2", "steps: 3"));
  const edited = runCli(["train", "--resume", "done"], { cwd: dir });
  assert.equal(edited.code, 2);
  assert.match(edited.stderr, /config\.yaml was edited after the run started/);
});

test("a NaN loss stops the run with exit 1 naming the step; the last checkpoint stays loadable", () => {
  const dir = tempDir();
  const cfg = writeConfig(dir, "nan.yaml", "name: nan\ntrain: { steps: 20, lr: 1.0e+30, warmup: 0, grad_clip: 0, checkpoint_every: 1, sample_grid: 0 }\n");
  const r = runCli(["train", cfg, "--run-dir", "run"], { cwd: dir });
  assert.equal(r.code, 1, r.stderr);
  const m = /loss is (NaN|Infinity|-Infinity) at step (\d+)|gradient norm is \S+ at step (\d+)/.exec(r.stderr);
  assert.ok(m, r.stderr);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  const failedAt = Number(m[2] ?? m[3]);
  const ckpts = fs.readdirSync(path.join(dir, "run", "checkpoints")).filter((d) => d.startsWith("step-"));
  const steps = ckpts.map((d) => Number(d.slice(5)));
  assert.ok(steps.length > 0 && Math.max(...steps) < failedAt, `checkpoints ${steps} before step ${failedAt}`);
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, "run", "manifest.json"), "utf8")) as { status: string };
  assert.equal(manifest.status, "failed");
});

test("Ctrl-C during training writes a checkpoint, exits cleanly, and --resume continues the run", async () => {
  const dir = tempDir();
  const cfg = writeConfig(dir, "int.yaml", "name: int\ntrain: { steps: 400, checkpoint_every: 1000, log_every: 1, sample_grid: 0 }\n");
  const child = spawn(process.execPath, [BIN, "train", cfg, "--run-dir", "run"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  child.stdout.on("data", () => {});
  const metricsFile = path.join(dir, "run", "metrics.jsonl");
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline && !(fs.existsSync(metricsFile) && fs.readFileSync(metricsFile, "utf8").split("\n").length > 3)) {
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill("SIGINT");
  const code = await new Promise<number | null>((res) => child.on("exit", (c) => res(c)));
  assert.equal(code, 130, err);
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, "run", "manifest.json"), "utf8")) as { status: string; step: number };
  assert.equal(manifest.status, "interrupted");
  assert.ok(manifest.step > 0 && manifest.step < 400);
  assert.ok(fs.existsSync(path.join(dir, "run", "checkpoints", `step-${manifest.step}`, "params.bin")));
  assert.equal(runCli(["train", "--resume", "run", "--set", "x=1"], { cwd: dir }).code, 2, "no --set on resume");
  const target = manifest.step + 2;
  const resumed = runCli(["train", "--resume", "run", "--until-step", String(target)], { cwd: dir });
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stdout, new RegExp(`stopped at step ${target} of 400`));
  assert.deepEqual(metrics(path.join(dir, "run")).map((m) => m.step).slice(-3), [target - 2, target - 1, target], "the log continues without gaps or repeats");
});
