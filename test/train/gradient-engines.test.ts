/**
 * engine.gradients through the real CLI: tfjs (tf.variableGrads) and onnx (onnxruntime-node)
 * give the same loss curve and VLB terms on configs/ci-tiny.yaml to float32 rounding, `auto`
 * picks onnx on the wasm and cpu backends (and is then bit-identical to an explicit onnx run),
 * and the manifest records the engine used next to the backend.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { runCli, tempDir, ROOT } from "../helpers/cli.js";
import { chooseGradientEngine } from "../../src/train/trainer.js";

const TINY = path.join(ROOT, "configs", "ci-tiny.yaml");

interface Metric {
  step: number;
  loss: number;
  kl_bpd?: number;
}
interface Manifest {
  backend: { name: string; gradients?: { engine: string; reason: string; threads?: number }; device?: { requested: string; provider: string; reason: string } };
}

const metrics = (run: string): Metric[] =>
  fs
    .readFileSync(path.join(run, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Metric);
const manifest = (run: string): Manifest => JSON.parse(fs.readFileSync(path.join(run, "manifest.json"), "utf8")) as Manifest;

function train(dir: string, name: string, args: string[]): string {
  const r = runCli(["train", TINY, "--run-dir", name, "--quiet", ...args], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  return path.join(dir, name);
}

test("wasm: gradients tfjs and onnx give the same loss curve to 1e-5; auto is onnx, bit for bit", () => {
  const dir = tempDir();
  const tfjs = train(dir, "tfjs", ["--set", "engine.gradients=tfjs"]);
  const onnx = train(dir, "onnx", ["--set", "engine.gradients=onnx"]);
  const auto = train(dir, "auto", []);

  const a = metrics(tfjs);
  const b = metrics(onnx);
  assert.equal(a.length, 8);
  assert.deepEqual(b.map((m) => m.step), a.map((m) => m.step));
  let worst = 0;
  a.forEach((m, k) => {
    const o = b[k]!;
    const rel = Math.abs(o.loss - m.loss) / Math.abs(m.loss);
    worst = Math.max(worst, rel);
    assert.ok(rel <= 1e-5, `step ${m.step}: loss ${m.loss} (tfjs) vs ${o.loss} (onnx)`);
    assert.equal(typeof o.kl_bpd, typeof m.kl_bpd);
    if (m.kl_bpd !== undefined) assert.ok(Math.abs(o.kl_bpd! - m.kl_bpd) <= 1e-5 * Math.abs(m.kl_bpd), `step ${m.step}: kl_bpd ${m.kl_bpd} vs ${o.kl_bpd}`);
  });
  // the two engines are separate implementations: equal bits everywhere would mean one ran twice
  assert.ok(a.some((m, k) => m.loss !== b[k]!.loss), "tfjs and onnx gave identical bits: was the key ignored?");
  assert.ok(worst > 0);
  // the curve moves: equality is not trivial
  assert.notEqual(a[0]!.loss, a[7]!.loss);

  assert.deepEqual(metrics(auto).map((m) => [m.step, m.loss, m.kl_bpd]), b.map((m) => [m.step, m.loss, m.kl_bpd]));
  assert.deepEqual(manifest(tfjs).backend.gradients, { engine: "tfjs", reason: "engine.gradients: tfjs" });
  assert.equal(manifest(onnx).backend.gradients?.engine, "onnx");
  const g = manifest(auto).backend.gradients;
  assert.equal(manifest(auto).backend.name, "wasm");
  assert.equal(g?.engine, "onnx");
  assert.match(g?.reason ?? "", /^auto: onnxruntime-node on the CPU/);
  assert.ok(Number.isInteger(g?.threads) && (g?.threads ?? 0) >= 1);
  // the final checkpoints agree too (parameters after 8 AdamW steps)
  const floats = (run: string): Float32Array => new Float32Array(Uint8Array.from(fs.readFileSync(path.join(run, "checkpoints", "step-8", "params.bin"))).buffer);
  const pa = floats(tfjs);
  const pb = floats(onnx);
  assert.equal(pa.length, pb.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < pa.length; i++) {
    diff = Math.max(diff, Math.abs(pa[i]! - pb[i]!));
    scale = Math.max(scale, Math.abs(pa[i]!));
  }
  assert.ok(diff <= 1e-4 * scale, `parameters after 8 steps differ by ${diff} (largest |θ| ${scale})`);
});

test("wasm, gradients tfjs: 8 straight steps == 4 steps + --resume 4 (bit-identical; the host update and the mirrored variables)", () => {
  const dir = tempDir();
  const straight = train(dir, "a", ["--set", "engine.gradients=tfjs"]);
  const first = train(dir, "b", ["--set", "engine.gradients=tfjs", "--until-step", "4"]);
  const r = runCli(["train", "--resume", "b", "--quiet"], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  for (const f of ["params.bin", "ema.bin", "adam_m.bin", "adam_v.bin"]) {
    const x = fs.readFileSync(path.join(straight, "checkpoints", "step-8", f));
    const y = fs.readFileSync(path.join(first, "checkpoints", "step-8", f));
    assert.ok(x.equals(y), `checkpoints/step-8/${f} differs after resume`);
  }
  assert.deepEqual(metrics(first).map((m) => m.loss), metrics(straight).map((m) => m.loss));
  assert.equal(manifest(first).backend.gradients?.engine, "tfjs");
});

test("cpu: auto picks onnx gradients, engine.device auto falls back to the CPU here, and the manifest says why", () => {
  const dir = tempDir();
  const run = train(dir, "cpu", ["--backend", "cpu", "--until-step", "2"]);
  const m = manifest(run);
  assert.equal(m.backend.name, "cpu");
  assert.equal(m.backend.gradients?.engine, "onnx");
  assert.match(m.backend.gradients?.reason ?? "", /^auto: onnxruntime-node on the CPU/);
  // this machine has no CUDA provider library (the project skips onnxruntime-node's CUDA download)
  assert.equal(m.backend.device?.provider, "cpu");
  assert.equal(m.backend.device?.requested, "auto");
  assert.match(m.backend.device?.reason ?? "", /^auto: CUDA not used: .*libonnxruntime_providers_shared\.so is missing/);
  assert.equal(metrics(run).length, 2);
});

test("auto is onnx on either device (the GPU path needs no tfjs); an explicit choice wins", () => {
  assert.equal(chooseGradientEngine("auto", "cpu").engine, "onnx");
  assert.equal(chooseGradientEngine("auto", "cuda").engine, "onnx");
  assert.match(chooseGradientEngine("auto", "cuda").reason, /CUDA/);
  assert.equal(chooseGradientEngine("tfjs", "cuda").engine, "tfjs");
  assert.equal(chooseGradientEngine("onnx", "cpu").engine, "onnx");
});

test("engine.gradients refuses an unknown engine with the key named", () => {
  const dir = tempDir();
  const r = runCli(["train", TINY, "--run-dir", "bad", "--set", "engine.gradients=cuda"], { cwd: dir });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /engine\.gradients/);
  assert.ok(!fs.existsSync(path.join(dir, "bad")), "a refused start leaves no run folder");
});
