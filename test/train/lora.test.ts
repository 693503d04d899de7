/**
 * LoRA fine-tuning (train.adapter, issue 15) through the real CLI, on a tiny base pretrained here
 * exactly as test/train/pretrain.test.ts makes one:
 * - only the adapter trains: the checkpoints hold exactly the adapter's A/B tensors (plus the
 *   base's sha256 in state.json), the base's bytes are unchanged, B has moved off zero, and the
 *   first loss equals a full fine-tune's first loss from the same base (B = 0 ⇒ the base network);
 * - the manifest's parameter counts equal the counts of the tensors actually stored (the adapter)
 *   and in the base file (the model);
 * - kill -9 during training, then --resume: bit-identical checkpoint and loss curve to an
 *   uninterrupted run;
 * - sampling works on tfjs and onnx, and `export --merge` writes a plain model (no adapter
 *   tensors, the base's parameter count) whose outputs and samples equal the unmerged adapter's
 *   to float32 rounding;
 * - an adapter on a base whose weights changed (same name, different sha256) is refused with
 *   exit 2 naming both hashes, for sample, export and --resume; so is an adapter without a base.
 */
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { fromBinary } from "@bufbuild/protobuf";
import { ModelProtoSchema } from "onnx-buf";
import { runCli, tempDir, ROOT, BIN } from "../helpers/cli.js";
import { readPng } from "../../src/engine/image.js";
import { Rng } from "../../src/engine/rng.js";
import { initBackend } from "../../src/engine/backend.js";
import { onnxNetworkFromFile, onnxNetworkFromParams } from "../../src/export/onnx-network.js";
import { loadRunWeights, openRun } from "../../src/sample/run-model.js";
import { relError } from "../nn/fixture.js";

const TINY = path.join(ROOT, "configs", "ci-tiny.yaml");
const TARGETS = "[attn_q, attn_k, attn_v, attn_out, conv3x3, time, text_encoder]";

const sha = (file: string): string => createHash("sha256").update(fs.readFileSync(file)).digest("hex");
const json = <T>(file: string): T => JSON.parse(fs.readFileSync(file, "utf8")) as T;

interface Metric {
  step: number;
  loss: number;
  steps_per_s: number;
}
const metrics = (run: string): Omit<Metric, "steps_per_s">[] =>
  fs
    .readFileSync(path.join(run, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Metric)
    .map(({ steps_per_s: _s, ...rest }) => rest);

function write(dir: string, name: string, lines: string[]): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, [...lines, ""].join("\n"));
  return file;
}

describe("LoRA fine-tuning (train.adapter)", () => {
  const work = tempDir("diffx-lora-");
  const bases = path.join(work, "bases");
  const env = { DIFFX_BASES: bases };
  const baseWeights = path.join(bases, "tiny", "weights.bin");
  let loraCfg = "";
  let baseSha = "";

  before(async () => {
    const pre = write(work, "pretrain-tiny.yaml", [
      `extends: ${TINY}`,
      "name: pretrain-tiny",
      "dataset: { kind: art, name: corpus-tiny, n: 16, image_size: 16, seed: 2000900 }",
      "pretrain: { base: tiny, heldout_n: 6, heldout_seed: 2000901 }",
      "train: { steps: 6, checkpoint_every: 3, sample_grid: 0 }",
    ]);
    const r = runCli(["pretrain", pre, "--run-dir", path.join(work, "pre"), "--out", path.join(bases, "tiny"), "--quiet"], { cwd: work });
    assert.equal(r.code, 0, r.stderr);
    baseSha = sha(baseWeights);
    loraCfg = write(work, "lora.yaml", [
      `extends: ${TINY}`,
      "name: lora",
      `train: { init: "base:tiny", steps: 8, checkpoint_every: 4, log_every: 1, sample_grid: 4, adapter: { kind: lora, rank: 2, alpha: 4, targets: ${TARGETS} } }`,
    ]);
    await initBackend("cpu", { threads: 1 });
    process.env.DIFFX_BASES = bases; // for the in-process loads of the run's weights
  });

  it("trains only the adapter: checkpoints hold A and B and the base's sha256, the base is untouched, step 0 is the base", () => {
    const run = path.join(work, "lora");
    const r = runCli(["train", loraCfg, "--run-dir", run, "--quiet"], { cwd: work, env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha(baseWeights), baseSha, "the base's weights file is unchanged");
    const ckpt = path.join(run, "checkpoints", "step-8");
    const names = Object.keys(json<Record<string, unknown>>(path.join(ckpt, "params.json")));
    assert.ok(names.length > 0 && names.every((n) => /\.lora_[ab]$/.test(n)), "only adapter tensors in the checkpoint");
    for (const f of ["ema", "adam_m", "adam_v"]) assert.deepEqual(Object.keys(json<Record<string, unknown>>(path.join(ckpt, `${f}.json`))), names, `${f}: the adapter only`);
    const state = json<{ adapter: { base: { sha256: string; init: string }; rank: number; scale: number } }>(path.join(ckpt, "state.json"));
    assert.equal(state.adapter.base.sha256, baseSha);
    assert.equal(state.adapter.base.init, "base:tiny");
    assert.equal(state.adapter.scale, 2);
    // B started at zero and moved
    const index = json<Record<string, { offset: number; length: number }>>(path.join(ckpt, "params.json"));
    const bin = fs.readFileSync(path.join(ckpt, "params.bin"));
    const values = new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength));
    const bNames = names.filter((n) => n.endsWith(".lora_b"));
    assert.ok(bNames.every((n) => values.subarray(index[n].offset, index[n].offset + index[n].length).some((v) => v !== 0)), "every B was trained");
    assert.ok(fs.existsSync(path.join(run, "samples", "grid.png")), "the end-of-training grid ran the adapter");

    // a full fine-tune from the same base: its first loss is the base network's, as is LoRA's (B = 0)
    const full = runCli(["train", TINY, "--set", "train.init=base:tiny", "--set", "train.steps=1", "--set", "train.log_every=1", "--set", "train.sample_grid=0", "--run-dir", path.join(work, "full"), "--quiet"], { cwd: work, env });
    assert.equal(full.code, 0, full.stderr);
    assert.equal(metrics(run)[0].loss, metrics(path.join(work, "full"))[0].loss);

    // parameter counts: the adapter's stored tensors vs the base file's
    const manifest = json<{ parameters: { trainable: number; total: number; ratio: number; model: number; fraction_of_full: number; adapter: { rank: number; layers: number } }; init: { added_words: string[] } }>(path.join(run, "manifest.json"));
    const stored = Object.values(index).reduce((a, e) => a + e.length, 0);
    const base = json<{ params: { shape: number[] }[]; model: { text_dim: number } }>(path.join(bases, "tiny", "base.json"));
    // the run's model: the base's parameters, plus one embedding row per caption word the base lacked
    const modelCount = base.params.reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0) + manifest.init.added_words.length * base.model.text_dim;
    const fullManifest = json<{ parameters: { trainable: number; total: number; ratio: number } }>(path.join(work, "full", "manifest.json"));
    assert.equal(manifest.parameters.trainable, stored);
    assert.equal(manifest.parameters.model, modelCount);
    assert.equal(manifest.parameters.total, modelCount + stored);
    assert.equal(manifest.parameters.ratio, stored / (modelCount + stored));
    assert.equal(manifest.parameters.fraction_of_full, stored / modelCount);
    assert.equal(manifest.parameters.adapter.layers, bNames.length);
    assert.deepEqual([fullManifest.parameters.trainable, fullManifest.parameters.total, fullManifest.parameters.ratio], [modelCount, modelCount, 1]);
  });

  it("kill -9 mid-run, then --resume: the same checkpoint bytes and loss curve as an uninterrupted run", async () => {
    const cfg = write(work, "lora-long.yaml", [
      `extends: ${TINY}`,
      "name: lora-long",
      `train: { init: "base:tiny", steps: 60, checkpoint_every: 5, log_every: 1, eval_every: 20, sample_grid: 0, adapter: { kind: lora, rank: 3, targets: ${TARGETS} } }`,
    ]);
    const straight = runCli(["train", cfg, "--run-dir", "straight", "--quiet"], { cwd: work, env });
    assert.equal(straight.code, 0, straight.stderr);

    const killed = path.join(work, "killed");
    const child = spawn(process.execPath, [BIN, "train", cfg, "--run-dir", killed, "--quiet"], { cwd: work, env: { ...process.env, ...env }, stdio: "ignore" });
    const ended = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, signal) => resolve(signal)));
    const firstCheckpoint = path.join(killed, "checkpoints", "step-5", "state.json");
    while (!fs.existsSync(firstCheckpoint) && child.exitCode === null) await new Promise((r) => setTimeout(r, 5));
    child.kill("SIGKILL");
    assert.equal(await ended, "SIGKILL", "the run was still going when killed");
    const steps = fs.readdirSync(path.join(killed, "checkpoints")).filter((d) => d.startsWith("step-"));
    assert.ok(steps.length >= 1 && !steps.includes("step-60"), `killed before the end (checkpoints: ${steps.join(", ")})`);

    const resumed = runCli(["train", "--resume", killed, "--quiet"], { cwd: work, env });
    assert.equal(resumed.code, 0, resumed.stderr);
    for (const f of ["params.bin", "ema.bin", "adam_m.bin", "adam_v.bin"]) {
      assert.equal(sha(path.join(killed, "checkpoints", "step-60", f)), sha(path.join(work, "straight", "checkpoints", "step-60", f)), f);
    }
    assert.deepEqual(metrics(killed), metrics(path.join(work, "straight")), "same loss curve");
  });

  it("samples on tfjs and onnx; export --merge writes a plain model with the unmerged adapter's outputs and samples", async () => {
    const run = path.join(work, "lora");
    const sample = (engine: string, out: string) => runCli(["sample", run, "--engine", engine, "--from-dataset", "--n", "4", "--out", out, "--quiet", "--json"], { cwd: work, env });
    for (const engine of ["tfjs", "onnx"]) {
      const s = sample(engine, path.join(work, `s-${engine}`));
      assert.equal(s.code, 0, s.stderr);
    }
    const pixels = (dir: string, i: number) => readPng(path.join(work, dir, `sample-000${i}.png`)).data;
    const maxDiff = (a: Uint8Array, b: Uint8Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - (b[i] as number))), 0);
    for (let i = 0; i < 4; i++) assert.ok(maxDiff(pixels("s-tfjs", i), pixels("s-onnx", i)) <= 2, `tfjs vs onnx sample ${i}`);

    const e = runCli(["export", run, "--merge", "--json"], { cwd: work, env });
    assert.equal(e.code, 0, e.stderr);
    const exported = JSON.parse(e.stdout) as { file: string; parameters: number; lora: string };
    assert.equal(exported.lora, "merged");
    const counts = json<{ parameters: { model: number } }>(path.join(run, "manifest.json")).parameters;
    assert.equal(exported.parameters, counts.model, "the model's parameter count: no adapter tensors");
    const graph = fromBinary(ModelProtoSchema, fs.readFileSync(exported.file)).graph;
    assert.ok(graph && graph.initializer.length > 0 && graph.initializer.every((t) => !t.name.includes("lora")), "a plain model");

    // network outputs: the merged file vs the adapter traced unmerged, same inputs
    const info = openRun(run);
    const weights = loadRunWeights(info, true);
    assert.ok(weights.lora !== null);
    const unmerged = await onnxNetworkFromParams(info.config.model, weights.params, { threads: 1 }, weights.lora);
    const { network: merged } = await onnxNetworkFromFile(exported.file, { threads: 1 });
    const model = info.config.model;
    const B = 4;
    const R = model.resolution;
    const x = Float32Array.from(new Rng(1, "merge-test").normals(B * R * R * 3));
    const t = Float32Array.of(0, 30, 60, 99);
    const tokens = Int32Array.from({ length: B * model.max_tokens }, (_, i) => i % (info.tokenizer?.size ?? 1));
    const cond = Float32Array.of(1, 0, 1, 1);
    const yu = await unmerged.run(x, t, { tokens }, cond);
    const ym = await merged.run(x, t, { tokens }, cond);
    unmerged.dispose();
    merged.dispose();
    assert.ok(relError(ym, yu) < 1e-5, `merged vs unmerged: ${relError(ym, yu)}`);

    // samples: `sample --engine onnx` now runs the merged export (RUN/export/model.onnx)
    const m = sample("onnx", path.join(work, "s-merged"));
    assert.equal(m.code, 0, m.stderr);
    assert.equal((JSON.parse(m.stdout) as { engine: { file: string | null } }).engine.file, exported.file);
    for (let i = 0; i < 4; i++) assert.ok(maxDiff(pixels("s-merged", i), pixels("s-onnx", i)) <= 1, `merged vs unmerged sample ${i}`);
  });

  it("an adapter on a changed base is refused (exit 2, both hashes), for sample, export and --resume", () => {
    const run = path.join(work, "lora");
    const half = path.join(work, "half");
    const h = runCli(["train", loraCfg, "--run-dir", half, "--until-step", "4", "--quiet"], { cwd: work, env });
    assert.equal(h.code, 0, h.stderr);
    // another base under the same name: same model, one weight changed, a valid base.json
    const other = path.join(work, "other-bases");
    fs.cpSync(path.join(bases, "tiny"), path.join(other, "tiny"), { recursive: true });
    const wfile = path.join(other, "tiny", "weights.bin");
    const bytes = fs.readFileSync(wfile);
    bytes.writeFloatLE(bytes.readFloatLE(0) + 0.5, 0);
    fs.writeFileSync(wfile, bytes);
    const metaFile = path.join(other, "tiny", "base.json");
    const meta = json<{ weights: { sha256: string } }>(metaFile);
    const otherSha = sha(wfile);
    meta.weights.sha256 = otherSha;
    fs.writeFileSync(metaFile, JSON.stringify(meta));
    const otherEnv = { DIFFX_BASES: other };
    const before = fs.readdirSync(path.join(half, "checkpoints")).sort();
    for (const args of [
      ["sample", run, "--from-dataset", "--n", "2", "--out", path.join(work, "s-wrong")],
      ["export", run, "--out", path.join(work, "wrong.onnx")],
      ["train", "--resume", half],
    ]) {
      const r = runCli([...args, "--quiet"], { cwd: work, env: otherEnv });
      assert.equal(r.code, 2, `${args[0]}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`trained on base:tiny with weights sha256 ${baseSha.slice(0, 16)}.*now resolves to base:tiny with sha256 ${otherSha.slice(0, 16)}.*An adapter only fits the base it was trained on`), args[0]);
      assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    }
    assert.ok(!fs.existsSync(path.join(work, "s-wrong")) && !fs.existsSync(path.join(work, "wrong.onnx")), "nothing written");
    assert.deepEqual(fs.readdirSync(path.join(half, "checkpoints")).sort(), before, "the run is untouched");
    // with the right base the same run resumes
    const ok = runCli(["train", "--resume", half, "--quiet"], { cwd: work, env });
    assert.equal(ok.code, 0, ok.stderr);
  });

  it("config errors: an adapter without a base, and an unknown target (exit 2)", () => {
    const scratch = runCli(["train", TINY, "--set", "train.adapter.kind=lora", "--run-dir", path.join(work, "no-base"), "--quiet"], { cwd: work, env });
    assert.equal(scratch.code, 2, scratch.stderr);
    assert.match(scratch.stderr, /train\.adapter.*set train\.init to base:NAME or run:PATH/);
    const cfg = write(work, "bad-target.yaml", [`extends: ${TINY}`, "name: bad", `train: { init: "base:tiny", adapter: { kind: lora, targets: [attn_q, attn_z] } }`]);
    const bad = runCli(["train", cfg, "--run-dir", path.join(work, "bad"), "--quiet"], { cwd: work, env });
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /train\.adapter\.targets/);
    assert.ok(!fs.existsSync(path.join(work, "no-base")) && !fs.existsSync(path.join(work, "bad")), "no run folder left behind");
  });
});
