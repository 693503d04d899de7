/**
 * `diffx export` through the real CLI, and the two sampling engines on one trained tiny run
 * (trained once in `before`, v-prediction so that samples are a smooth function of the network
 * output): the export loads in onnxruntime-node with a symbolic batch; tfjs and onnxruntime
 * agree on the forward (≤ 1e-4 relative) and on a full guided DDIM sample (< 1e-3 max abs,
 * compared as floats through the library).
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as ort from "onnxruntime-node";
import { guidedDenoiser, sample, seededNoise } from "../../src/diffusion/samplers/index.js";
import { makeSchedule } from "../../src/diffusion/schedule.js";
import { sha256File } from "../../src/engine/hash.js";
import { readPng } from "../../src/engine/image.js";
import { Rng } from "../../src/engine/rng.js";
import { countParams } from "../../src/model/params.js";
import { conditionInputs } from "../../src/sample/conditions.js";
import { openNetwork, type OpenedNetwork } from "../../src/sample/network.js";
import { openRun, type RunInfo } from "../../src/sample/run-model.js";
import { conditionedDenoiser } from "../../src/sample/network-session.js";
import { latestWeights } from "../../src/train/checkpoint.js";
import { ROOT, runCli, tempDir, type CliResult } from "../helpers/cli.js";

const cwd = fs.realpathSync(tempDir("diffx-export-cli-"));
const RUN = path.join(cwd, "runs", "text");
const EXPORT = path.join(RUN, "export", "model.onnx");
const PROMPTS = ["red circle on blue", "green square", "a yellow star"];
let exported: CliResult;

function cli(args: string[]): CliResult {
  return runCli(args, { cwd });
}

/** max |a − b| / max |b| */
function relError(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs((a[i] as number) - (b[i] as number)));
    scale = Math.max(scale, Math.abs(b[i] as number));
  }
  return diff / scale;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

before(() => {
  const t = cli(["-q", "train", path.join(ROOT, "configs", "ci-tiny.yaml"), "--run-dir", RUN, "--set", "diffusion.prediction=v"]);
  assert.equal(t.code, 0, t.stderr);
  exported = cli(["export", RUN]);
});

test("export writes model.onnx + model.json into RUN/export, says what it wrote, and onnxruntime-node loads it with a symbolic batch", async () => {
  assert.equal(exported.code, 0, exported.stderr);
  const m = /^wrote (\S+) \(([\d.]+) KiB, (\d+) parameters, \d+ nodes, ONNX IR 8 \/ opset 17\)$/m.exec(exported.stdout);
  assert.ok(m, exported.stdout);
  assert.equal(m[1], EXPORT);
  const { params, step } = latestWeights(RUN, true);
  assert.equal(Number(m[3]), countParams(params));
  assert.match(exported.stdout, new RegExp(`weights: EMA, checkpoint step ${step}`));
  assert.ok(Math.abs(Number(m[2]) * 1024 - fs.statSync(EXPORT).size) < 52);

  const sidecar = JSON.parse(fs.readFileSync(path.join(RUN, "export", "model.json"), "utf8")) as {
    model_sha256: string;
    prediction: string;
    source: { step: number; ema: boolean; config_hash: string };
    tokenizer: unknown;
  };
  const runManifest = JSON.parse(fs.readFileSync(path.join(RUN, "manifest.json"), "utf8")) as { config_hash: string; outputs: Record<string, string> };
  assert.equal(sidecar.model_sha256, sha256File(EXPORT));
  assert.equal(sidecar.prediction, "v");
  assert.deepEqual(sidecar.source, { ...sidecar.source, step, ema: true, config_hash: runManifest.config_hash });
  assert.deepEqual(sidecar.tokenizer, JSON.parse(fs.readFileSync(path.join(RUN, "tokenizer.json"), "utf8")));
  assert.equal(runManifest.outputs["export/model.onnx"], sha256File(EXPORT));
  assert.equal(runManifest.outputs["export/model.json"], sha256File(path.join(RUN, "export", "model.json")));

  const session = await ort.InferenceSession.create(EXPORT, { intraOpNumThreads: 1 });
  try {
    assert.deepEqual([...session.inputNames], ["x", "t", "cond", "tokens"]);
    const x = session.inputMetadata[0];
    assert.ok(x && x.isTensor);
    assert.deepEqual([...x.shape], ["batch", 8, 8, 3]);
    for (const batch of [1, 3]) {
      const out = await session.run({
        x: new ort.Tensor("float32", new Rng(batch, "x").normals(batch * 8 * 8 * 3), [batch, 8, 8, 3]),
        t: new ort.Tensor("float32", new Float32Array(batch).fill(50), [batch]),
        cond: new ort.Tensor("float32", new Float32Array(batch).fill(1), [batch]),
        tokens: new ort.Tensor("int32", new Int32Array(batch * 12).fill(2), [batch, 12]),
      });
      const y = out[session.outputNames[0] as string];
      assert.deepEqual(y?.dims, [batch, 8, 8, 3]);
    }
  } finally {
    await session.release();
  }
});

test("export --no-ema --out FILE; a run without checkpoints or an --out under a file exits 1, an unknown run 2", () => {
  const file = path.join(cwd, "raw", "net.onnx");
  const r = cli(["--json", "export", RUN, "--no-ema", "--out", file]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { file: string; ema: boolean; run_manifest_updated: boolean };
  assert.deepEqual([j.file, j.ema, j.run_manifest_updated], [file, false, false]);
  const side = JSON.parse(fs.readFileSync(path.join(cwd, "raw", "net.json"), "utf8")) as { model_file: string; source: { ema: boolean } };
  assert.deepEqual([side.model_file, side.source.ema], ["net.onnx", false]);
  assert.notEqual(sha256File(file), sha256File(EXPORT), "raw and EMA weights differ");

  const fresh = path.join(cwd, "runs", "fresh");
  fs.mkdirSync(fresh, { recursive: true });
  fs.copyFileSync(path.join(RUN, "config.yaml"), path.join(fresh, "config.yaml"));
  fs.copyFileSync(path.join(RUN, "tokenizer.json"), path.join(fresh, "tokenizer.json"));
  const none = cli(["export", fresh]);
  assert.equal(none.code, 1);
  assert.equal(none.stderr.trim(), `diffx: ${fresh}: the run has no checkpoint yet (train it first)`);
  assert.ok(!fs.existsSync(path.join(fresh, "export")));
  const unknown = cli(["export", path.join(cwd, "runs", "nope")]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /runs\/nope: no such run folder/);
  // --out under a path that is a file: one line naming that file, nothing written
  const blocker = path.join(cwd, "afile");
  fs.writeFileSync(blocker, "x");
  const underFile = cli(["export", RUN, "--out", path.join(blocker, "m.onnx")]);
  assert.equal(underFile.code, 1);
  assert.equal(underFile.stderr.trim(), `diffx: cannot write ${path.join(blocker, "m.onnx")}: ${blocker} is a file, not a folder`);
  assert.equal(fs.readFileSync(blocker, "utf8"), "x");
});

test("tfjs vs onnxruntime on the trained run: forward within 1e-4 relative, full guided DDIM sample within 1e-3 max abs", async (t) => {
  const info: RunInfo = openRun(RUN);
  const model = info.config.model;
  const tfjs = await openNetwork({ engine: "tfjs", run: info, ema: true });
  const onnx: OpenedNetwork = await openNetwork({ engine: "onnx", run: info, ema: true, threads: 1 });
  try {
    assert.equal(onnx.engine.file, EXPORT, "the matching export is used");
    assert.equal(tfjs.step, onnx.step);
    const B = PROMPTS.length;
    const size = model.resolution ** 2 * 3;
    const inputs = conditionInputs(model, PROMPTS.map((prompt) => ({ prompt })), info.tokenizer);
    const x = new Rng(3, "test-engines-x").normals(B * size);
    const ts = Float32Array.from([99, 50, 0]);
    const cond = Float32Array.from([1, 0, 1]);
    const a = await tfjs.session.run(x, ts, inputs, cond);
    const b = await onnx.session.run(x, ts, inputs, cond);
    const fwd = relError(b, a);
    t.diagnostic(`forward: relative error ${fwd.toExponential(2)}`);
    assert.ok(fwd <= 1e-4, `forward relative error ${fwd}`);

    const run = (net: OpenedNetwork) =>
      sample({
        denoiser: guidedDenoiser(conditionedDenoiser(net.session, model, inputs, true), info.config.sample.guidance),
        schedule: makeSchedule(info.config.diffusion),
        prediction: info.config.diffusion.prediction,
        sampler: { name: "ddim", steps: 10, eta: 0, clipX0: info.config.sample.clip_x0 },
        noise: seededNoise(info.config.seed, size),
        samples: [0, 1, 2],
        sampleSize: size,
      });
    const sa = await run(tfjs);
    const sb = await run(onnx);
    const diff = maxAbsDiff(sa, sb);
    const saturated = sa.filter((v) => Math.abs(v) >= 0.999).length / sa.length;
    t.diagnostic(`10-step guided DDIM: max |tfjs − onnxruntime| ${diff.toExponential(2)}; ${(100 * saturated).toFixed(1)} % of values at the ±1 clip`);
    assert.ok(saturated < 0.5, "the samples depend on the network, not only on the clip");
    assert.ok(Number.isFinite(diff) && diff < 1e-3, `max abs difference ${diff}`);
  } finally {
    tfjs.session.dispose();
    onnx.session.dispose();
  }
});

test("sample --engine onnx runs the export; its PNGs match the tfjs engine's within one grey level", () => {
  const outOnnx = path.join(cwd, "onnx");
  const outTfjs = path.join(cwd, "tfjs");
  const o = cli(["sample", RUN, "--prompt", PROMPTS[0] as string, "--n", "2", "--engine", "onnx", "--out", outOnnx]);
  assert.equal(o.code, 0, o.stderr);
  assert.match(o.stdout, new RegExp(`engine: onnxruntime-node \\S+ cpu \\(\\d+ threads?; model ${EXPORT.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}\\)`));
  const f = cli(["-q", "sample", RUN, "--prompt", PROMPTS[0] as string, "--n", "2", "--engine", "tfjs", "--out", outTfjs]);
  assert.equal(f.code, 0, f.stderr);
  for (const file of ["sample-0000.png", "sample-0001.png"]) {
    const a = readPng(path.join(outOnnx, file)).data;
    const b = readPng(path.join(outTfjs, file)).data;
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
    assert.ok(worst <= 1, `${file}: pixels differ by up to ${worst}`);
  }
  const recs = fs.readFileSync(path.join(outOnnx, "samples.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { engine: string; backend: string });
  assert.deepEqual(recs.map((r) => r.engine), ["onnx", "onnx"]);
});
