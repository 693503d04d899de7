/**
 * `diffx sample` through the real CLI (compiled dist/) on tiny runs trained once in `before`:
 * a text model with v-prediction (x̂₀ ≈ −v̂ at t ≈ T, so the images are a smooth function of the
 * network output rather than the ±1 pattern of the noise that an 8-step ε-model gives after
 * clipping: a byte comparison of its PNGs can then fail) and a sketch model.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { readPng } from "../../src/engine/image.js";
import { sha256File } from "../../src/engine/hash.js";
import { UsageError } from "../../src/errors.js";
import { openRun } from "../../src/sample/run-model.js";
import { DEFAULT_UNCONDITIONAL_N, promptWarnings, resolveConditions } from "../../src/sample/sample-conditions.js";
import type { Tokenizer } from "../../src/model/tokenizer.js";
import { sampleRun, type SampleRunOptions } from "../../src/sample/sample-run.js";
import { BIN, ROOT, runCli, tempDir, type CliResult } from "../helpers/cli.js";

const cwd = fs.realpathSync(tempDir("diffx-sample-cli-"));
const TEXT = path.join(cwd, "runs", "text");
const SKETCH = path.join(cwd, "runs", "sketch");
const UNCOND = path.join(cwd, "runs", "uncond-untrained");
const CONFIG = path.join(ROOT, "configs", "ci-tiny.yaml");

interface Rec {
  file: string;
  index: number;
  seed: number;
  prompt?: string;
  sketch?: string;
  pair?: string;
  sampler: string;
  steps: number;
  guidance: number | null;
  eta: number;
  engine: string;
  sha256: string;
  nfe: number;
  seconds_per_image: number;
}

function cli(args: string[]): CliResult {
  return runCli(args, { cwd });
}

function records(dir: string): Rec[] {
  return fs
    .readFileSync(path.join(dir, "samples.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Rec);
}

function bytes(file: string): Buffer {
  return fs.readFileSync(file);
}

before(() => {
  const t = cli(["-q", "train", CONFIG, "--run-dir", TEXT, "--set", "diffusion.prediction=v"]);
  assert.equal(t.code, 0, t.stderr);
  const s = cli(["-q", "train", CONFIG, "--run-dir", SKETCH, "--set", "model.conditioning=sketch", "--set", "dataset.kind=sketch2render", "--set", "dataset.name=ci-s2r"]);
  assert.equal(s.code, 0, s.stderr);
  // An unconditional run folder that was never trained: arguments are checked before weights load.
  fs.mkdirSync(UNCOND, { recursive: true });
  fs.writeFileSync(path.join(UNCOND, "config.yaml"), fs.readFileSync(path.join(TEXT, "config.yaml"), "utf8").replace("conditioning: text", "conditioning: none"));
});

test("sample i is the same PNG whatever --n and --batch-size; files, grid and samples.jsonl", () => {
  const one = path.join(cwd, "n1");
  const three = path.join(cwd, "n3");
  const r1 = cli(["-q", "sample", TEXT, "--prompt", "red circle", "--n", "1", "--out", one]);
  assert.equal(r1.code, 0, r1.stderr);
  const r3 = cli(["sample", TEXT, "--prompt", "red circle", "--prompt", "blue square", "--n", "3", "--batch-size", "2", "--out", three]);
  assert.equal(r3.code, 0, r3.stderr);
  assert.match(r3.stdout, /wrote 3 samples to /);
  assert.match(r3.stdout, /sampler: ddim, 4 steps, eta 0, guidance 2, seed 42, batch 2/);
  assert.match(r3.stdout, /engine: tfjs /);
  assert.match(r3.stdout, /sampling \d[\d.e-]* s per image \(8 network evaluations each, measured on this machine\), [\d.]+ images\/s/);

  assert.deepEqual(bytes(path.join(one, "sample-0000.png")), bytes(path.join(three, "sample-0000.png")));
  const img = readPng(path.join(three, "sample-0000.png"));
  assert.equal(img.width, 8);
  assert.ok(new Set(img.data).size > 32, "the sample is a smooth image, not saturated noise signs");

  const recs = records(three);
  assert.deepEqual(
    recs.map((r) => [r.file, r.index, r.prompt, r.seed, r.sampler, r.steps, r.guidance, r.engine]),
    [
      ["sample-0000.png", 0, "red circle", 42, "ddim", 4, 2, "tfjs"],
      ["sample-0001.png", 1, "blue square", 42, "ddim", 4, 2, "tfjs"],
      ["sample-0002.png", 2, "red circle", 42, "ddim", 4, 2, "tfjs"],
    ],
  );
  for (const r of recs) assert.equal(r.sha256, sha256File(path.join(three, r.file)));
  // the call's cost on every line: 4 DDIM steps × 2 (guidance 2 runs the unconditional pass), and the measured time per image
  assert.deepEqual(recs.map((r) => r.nfe), [8, 8, 8]);
  assert.ok(recs[0].seconds_per_image > 0 && recs.every((r) => r.seconds_per_image === recs[0].seconds_per_image), "one measured time per call");
  const grid = readPng(path.join(three, "grid.png"));
  assert.equal(grid.width, 3 * 8 + 4 * 2, "3 columns, 2-px gaps and border");
  const m = JSON.parse(fs.readFileSync(path.join(three, "manifest.json"), "utf8")) as { kind: string; status: string; outputs: Record<string, string> };
  assert.equal(m.kind, "sample");
  assert.equal(m.status, "finished");
  assert.deepEqual(Object.keys(m.outputs), ["grid.png", "sample-0000.png", "sample-0001.png", "sample-0002.png", "samples.jsonl"]);

  // another seed gives another image (the comparison above is sensitive to the noise)
  const other = path.join(cwd, "seed7");
  assert.equal(cli(["-q", "sample", TEXT, "--prompt", "red circle", "--n", "1", "--seed", "7", "--out", other]).code, 0);
  assert.notDeepEqual(bytes(path.join(other, "sample-0000.png")), bytes(path.join(one, "sample-0000.png")));
});

test("--engine onnx never loads tfjs (about a second of CPU at start-up); --engine tfjs does", () => {
  // A preload that reports at exit whether @tensorflow/tfjs-core is in node's module cache.
  const report = 'data:text/javascript,import { createRequire } from "node:module"; const cache = createRequire(process.cwd() + "/").cache; process.on("exit", () => process.stderr.write("tfjs-core loaded: " + Object.keys(cache).some((k) => k.includes("@tensorflow/tfjs-core")) + "\\n"));';
  for (const [engine, loaded] of [["onnx", "false"], ["tfjs", "true"]]) {
    const out = path.join(cwd, `tfjs-loaded-${engine}`);
    const r = spawnSync(process.execPath, ["--import", report, BIN, "sample", TEXT, "--prompt", "x", "--n", "1", "--steps", "2", "--engine", engine, "--out", out], { cwd, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(fs.existsSync(path.join(out, "samples.jsonl")), engine);
    assert.match(r.stderr, new RegExp(`^tfjs-core loaded: ${loaded}$`, "m"), engine);
  }
});

test("DDIM η = 0 is deterministic across invocations; the default folder is never overwritten and the run manifest lists it", () => {
  const args = ["-q", "--json", "sample", TEXT, "--prompt", "green square", "--n", "2", "--sampler", "ddim", "--eta", "0", "--steps", "3"];
  const a = cli(args);
  const b = cli(args);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  const ja = JSON.parse(a.stdout) as { out: string; files: string[] };
  const jb = JSON.parse(b.stdout) as { out: string; files: string[] };
  assert.equal(ja.out, path.join(TEXT, "samples", "ddim-3-seed42"));
  assert.equal(jb.out, path.join(TEXT, "samples", "ddim-3-seed42-2"));
  assert.deepEqual(ja.files, ["sample-0000.png", "sample-0001.png"]);
  for (const f of [...ja.files, "grid.png"]) assert.deepEqual(bytes(path.join(jb.out, f)), bytes(path.join(ja.out, f)), f);
  // samples.jsonl: the same records apart from the measured time, which differs from call to call
  const untimed = (dir: string) => records(dir).map(({ seconds_per_image: _measured, ...r }) => r);
  assert.deepEqual(untimed(jb.out), untimed(ja.out));
  const run = JSON.parse(fs.readFileSync(path.join(TEXT, "manifest.json"), "utf8")) as { outputs: Record<string, string> };
  for (const dir of ["ddim-3-seed42", "ddim-3-seed42-2"]) {
    const rel = `samples/${dir}/sample-0001.png`;
    assert.equal(run.outputs[rel], sha256File(path.join(TEXT, rel)), rel);
  }
});

test("--from-dataset takes the run's held-out pairs (cycled), else its training pairs", () => {
  const splitFile = path.join(SKETCH, "split.json");
  const original = fs.readFileSync(splitFile, "utf8");
  const all = (JSON.parse(original) as { train: number[] }).train;
  assert.ok(all.length >= 4);
  const train = all.slice(0, -2);
  const held = all.slice(-2);
  try {
    fs.writeFileSync(splitFile, JSON.stringify({ train, held_out: held }));
    const out = path.join(cwd, "held");
    const r = cli(["-q", "sample", SKETCH, "--from-dataset", "--n", "3", "--out", out]);
    assert.equal(r.code, 0, r.stderr);
    const ids = held.map((row) => String(row).padStart(4, "0"));
    assert.deepEqual(
      records(out).map((x) => [x.pair, x.sketch]),
      [ids[0], ids[1], ids[0]].map((id) => [id, `sketches/${id}.png`]),
    );
  } finally {
    fs.writeFileSync(splitFile, original);
  }
});

test("conditions through the library: default N is one per pair / prompt / sketch; a sketch file is read at the model's resolution", async () => {
  const sketch = openRun(SKETCH);
  const pairs = (JSON.parse(fs.readFileSync(path.join(SKETCH, "split.json"), "utf8")) as { train: number[] }).train.length;
  const fromPairs = await resolveConditions(sketch, { prompts: [], sketches: [], fromDataset: true }, { cwd });
  assert.equal(fromPairs.n, pairs);
  assert.equal(fromPairs.dataset?.split, "train");
  const file = path.join(cwd, "datasets", "ci-s2r", "sketches", "0001.png");
  const fromFile = await resolveConditions(sketch, { prompts: [], sketches: [file], fromDataset: false, n: 2 });
  assert.deepEqual(fromFile.labels, [{ sketch: file }, { sketch: file }]);
  // the same pixels as the dataset path gives for pair 0001
  assert.deepEqual(fromFile.conditions[0]?.sketch, fromPairs.conditions[1]?.sketch);
  assert.equal(fromFile.conditions[0]?.sketch?.length, 8 * 8);
  const textRun = openRun(TEXT);
  const warnings: string[] = [];
  const progress = { start() {}, update() {}, stop() {}, info() {}, warn: (m: string) => warnings.push(m) };
  const text = await resolveConditions(textRun, { prompts: ["a", "qqzzx"], sketches: [], fromDataset: false }, { progress });
  assert.deepEqual(text.labels, [{ prompt: "a" }, { prompt: "qqzzx" }]);
  assert.ok(warnings.some((w) => w.includes('"qqzzx"')), warnings.join("; "));
  const known = textRun.tokenizer?.vocab[3] as string;
  assert.deepEqual(promptWarnings([known], textRun.tokenizer as Tokenizer, 12), []);
  assert.deepEqual(promptWarnings([`${known} qqzzx`], textRun.tokenizer as Tokenizer, 12), [`not in the run's vocabulary of ${textRun.tokenizer?.size} tokens (read as <unk>): "qqzzx"`]);
  assert.match(promptWarnings([Array(12).fill(known).join(" ")], textRun.tokenizer as Tokenizer, 12)[0] ?? "", /has 12 tokens; the model reads only the first 11/);
  const none = await resolveConditions(openRun(UNCOND), { prompts: [], sketches: [], fromDataset: false });
  assert.equal(none.n, DEFAULT_UNCONDITIONAL_N);
});

test("bad input through the CLI: one clear line, exit 2, nothing written; no checkpoint: exit 1", () => {
  const cases: [string[], RegExp][] = [
    [["sample", path.join(cwd, "runs", "nope"), "--prompt", "x"], /runs\/nope: no such run folder/],
    [["sample", SKETCH, "--prompt", "x"], /--prompt: this run's model is sketch-conditioned/],
    [["sample", TEXT, "--sketch", "some.png"], /--sketch: this run's model is text-conditioned/],
    [["sample", SKETCH, "--sketch", "missing-sketch.png"], /missing-sketch\.png: file not found/],
    [["sample", UNCOND, "--prompt", "x"], /--prompt: this run's model is unconditional/],
    [["sample", TEXT, "--prompt", "x", "--n", "0"], /--n must be a whole number ≥ 1, got 0/],
  ];
  for (const [args, message] of cases) {
    const before = fs.readdirSync(path.join(TEXT, "samples")).length;
    const r = cli(args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(" "));
    assert.equal(r.stderr.trim().split("\n").length, 1, `one line: ${r.stderr}`);
    assert.equal(fs.readdirSync(path.join(TEXT, "samples")).length, before);
  }
  const noCkpt = cli(["sample", UNCOND]);
  assert.equal(noCkpt.code, 1);
  assert.match(noCkpt.stderr, /has no checkpoint yet \(train it first\)/);
});

test("bad input through the library: UsageError before anything is loaded or written", async () => {
  fs.writeFileSync(path.join(cwd, "not-an-image.png"), "hello");
  const cases: [SampleRunOptions, RegExp][] = [
    [{ run: SKETCH, sketches: [path.join(cwd, "not-an-image.png")] }, /not-an-image\.png: not a readable image/],
    [{ run: TEXT }, /text-conditioned.*give --prompt TEXT/],
    [{ run: TEXT, prompts: ["x"], fromDataset: true }, /not both/],
    [{ run: UNCOND, fromDataset: true }, /--from-dataset: this run's model is unconditional/],
    [{ run: TEXT, prompts: ["x"], n: 2.5 }, /--n must be a whole number ≥ 1, got 2.5/],
    [{ run: TEXT, prompts: ["x"], steps: 101 }, /--steps must be a whole number from 1 to 100/],
    [{ run: TEXT, prompts: ["x"], guidance: -1 }, /--guidance must be a number ≥ 0/],
    [{ run: TEXT, prompts: ["x"], seed: 1.5 }, /--seed must be a whole number ≥ 0/],
    [{ run: TEXT, prompts: ["x"], batchSize: 0 }, /--batch-size must be a whole number ≥ 1/],
    [{ run: TEXT, prompts: ["x"], out: path.join(cwd, "n3"), engine: "onnx" }, /already exists and is not empty/],
  ];
  for (const [opts, message] of cases) {
    await assert.rejects(sampleRun(opts), (err: unknown) => err instanceof UsageError && message.test(err.message), JSON.stringify(opts));
  }
});

test("Ctrl-C stops after the current batch: the finished samples are written and recorded, exit 130", async () => {
  const out = path.join(cwd, "interrupted");
  const child = spawn(process.execPath, [BIN, "sample", TEXT, "--prompt", "x", "--n", "400", "--batch-size", "1", "--steps", "2", "--engine", "onnx", "--out", out], { cwd });
  let stdout = "";
  let stderr = "";
  let sent = false;
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
    // the first progress line comes when sampling has started
    if (!sent && /sampling: /.test(stdout)) {
      sent = true;
      child.kill("SIGINT");
    }
  });
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  assert.equal(code, 130, stderr);
  assert.match(stderr, /SIGINT received/);
  const m = /interrupted: wrote (\d+) of 400 samples/.exec(stdout);
  assert.ok(m, stdout);
  const written = Number(m[1]);
  assert.ok(written >= 1 && written < 400);
  const recs = records(out);
  assert.equal(recs.length, written);
  for (const r of recs) assert.equal(r.sha256, sha256File(path.join(out, r.file)));
  assert.equal(fs.readdirSync(out).filter((f) => /^sample-\d+\.png$/.test(f)).length, written);
  const manifest = JSON.parse(fs.readFileSync(path.join(out, "manifest.json"), "utf8")) as { status: string };
  assert.equal(manifest.status, "interrupted");
});
