/**
 * Bad inputs through the real CLI, part 4 (issue 21, items 3, 4, 6 and 9): files of a run that
 * changed after diffx wrote them, lost training history, two samplers racing for one folder,
 * and a sample count that cannot fit. One tiny text run is trained to step 4 of 8 (`--until-step`)
 * in `before`; each case works on a copy, and every refusal checks exit code, message (naming
 * the file), no stack trace, and that no file under the working folder changed.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { runCli, tempDir } from "../helpers/cli.js";
import { assertRefused, assertUntouched, runCliAsync, writeConfig, type Expect } from "./helpers.js";

const cwd = fs.realpathSync(tempDir("diffx-bad-integrity-"));
const RUN = path.join(cwd, "runs", "half");
const BODY = "name: half\ndataset: { kind: art, name: half-art, n: 6, image_size: 16, seed: 3 }\ntrain: { steps: 8, batch_size: 2, checkpoint_every: 4, eval_every: 8, log_every: 1, sample_grid: 0 }\n";

function refused(label: string, args: string[], expect: Expect): void {
  const r = assertUntouched([cwd], () => runCli(args, { cwd }), label);
  assertRefused(r, expect, label);
}

/** A copy of the half-trained run, changed by `edit` before the case's snapshot. */
function copyOfRun(name: string, edit: (dir: string) => void): string {
  const dir = path.join(cwd, "runs", name);
  fs.cpSync(RUN, dir, { recursive: true });
  edit(dir);
  return dir;
}

const ckpt = (dir: string, file: string): string => path.join(dir, "checkpoints", "step-4", file);

before(() => {
  const config = writeConfig(cwd, "half.yaml", BODY);
  const r = runCli(["-q", "train", config, "--run-dir", RUN, "--until-step", "4"], { cwd });
  assert.equal(r.code, 0, r.stderr);
  const m = JSON.parse(fs.readFileSync(path.join(RUN, "manifest.json"), "utf8")) as { status: string; step: number };
  assert.deepEqual([m.status, m.step], ["interrupted", 4]);
});

// ---- item 4: recorded hashes are checked before the files are used

test("resume: a NaN written into params.bin (same size) is a damaged file, not a learning-rate problem", () => {
  const dir = copyOfRun("nan-params", (d) => {
    const f = ckpt(d, "params.bin");
    const b = fs.readFileSync(f);
    b.writeFloatLE(Number.NaN, 64);
    fs.writeFileSync(f, b);
  });
  refused("NaN in params.bin", ["train", "--resume", dir], { code: 1, message: [/runs\/nan-params\/checkpoints\/step-4\/params\.bin: changed since diffx wrote it \(sha256 differs from the one manifest\.json records\)/, /will not resume it/] });
});

test("sample, export and verify: one flipped byte in ema.bin is named", () => {
  const dir = copyOfRun("flipped-ema", (d) => {
    const f = ckpt(d, "ema.bin");
    const b = fs.readFileSync(f);
    b[100] ^= 0x01;
    fs.writeFileSync(f, b);
  });
  const named = /runs\/flipped-ema\/checkpoints\/step-4\/ema\.bin: changed since diffx wrote it/;
  refused("sample flipped ema", ["sample", dir, "--prompt", "a red circle", "--n", "1", "--out", path.join(cwd, "out-flipped")], { code: 1, message: [named, /will not sample from it or export it/] });
  refused("export flipped ema", ["export", dir], { code: 1, message: [named] });
  // raw weights are untouched, so sampling with them works
  const raw = runCli(["-q", "sample", dir, "--prompt", "a red circle", "--n", "1", "--no-ema", "--out", path.join(cwd, "out-raw")], { cwd });
  assert.equal(raw.code, 0, raw.stderr);
  // verify reports the file in its files check and fails
  const v = runCli(["verify", dir, "--stage", "data"], { cwd });
  assert.equal(v.code, 1, v.stderr + v.stdout);
  assert.match(v.stdout + v.stderr, /checkpoints\/step-4\/ema\.bin/);
});

test("sample: a permuted vocabulary in tokenizer.json is named", () => {
  const dir = copyOfRun("permuted-vocab", (d) => {
    const f = path.join(d, "tokenizer.json");
    const t = JSON.parse(fs.readFileSync(f, "utf8")) as { vocab: string[] };
    const n = t.vocab.length;
    [t.vocab[n - 1], t.vocab[n - 2]] = [t.vocab[n - 2], t.vocab[n - 1]];
    fs.writeFileSync(f, JSON.stringify(t));
  });
  refused("sample permuted vocab", ["sample", dir, "--prompt", "a red circle", "--n", "1", "--out", path.join(cwd, "out-vocab")], { code: 1, message: [/runs\/permuted-vocab\/tokenizer\.json: changed since diffx wrote it/] });
  refused("resume permuted vocab", ["train", "--resume", dir], { code: 1, message: [/runs\/permuted-vocab\/tokenizer\.json: changed since diffx wrote it/, /will not resume it/] });
});

// ---- item 6: resume checks metrics.jsonl against the checkpoint

const lostHistory = /runs\/(truncated|emptied|deleted|edited)\/metrics\.jsonl: /;
const advice = /restore metrics\.jsonl from a copy, or start the run again with 'diffx train .*config\.yaml'/;

test("resume: a truncated, emptied or deleted metrics.jsonl is refused, naming what is missing", () => {
  const truncated = copyOfRun("truncated", (d) => {
    const f = path.join(d, "metrics.jsonl");
    fs.writeFileSync(f, fs.readFileSync(f, "utf8").split("\n").slice(0, 2).join("\n") + "\n");
  });
  refused("truncated metrics", ["train", "--resume", truncated], { code: 1, message: [lostHistory, /holds 2 of the 4 records up to checkpoint step 4 \(steps 3…4 missing/, advice] });
  const emptied = copyOfRun("emptied", (d) => fs.writeFileSync(path.join(d, "metrics.jsonl"), ""));
  refused("emptied metrics", ["train", "--resume", emptied], { code: 1, message: [lostHistory, /holds 0 of the 4 records up to checkpoint step 4/, advice] });
  const deleted = copyOfRun("deleted", (d) => fs.rmSync(path.join(d, "metrics.jsonl")));
  refused("deleted metrics", ["train", "--resume", deleted], { code: 1, message: [lostHistory, /missing, but the run has trained 4 steps/, advice] });
});

test("resume: an edited loss in metrics.jsonl does not match the recorded sha256", () => {
  const dir = copyOfRun("edited", (d) => {
    const f = path.join(d, "metrics.jsonl");
    fs.writeFileSync(f, fs.readFileSync(f, "utf8").replace(/"loss":[0-9.e-]+/, '"loss":0.5'));
  });
  refused("edited metrics", ["train", "--resume", dir], { code: 1, message: [lostHistory, /records up to checkpoint step 4 changed since diffx wrote them/, advice] });
});

test("resume still accepts what a SIGKILL leaves: records past the checkpoint and a torn last line", () => {
  const dir = copyOfRun("killed", (d) => fs.appendFileSync(path.join(d, "metrics.jsonl"), '{"step":5,"loss":0.9,"lr":0.001,"grad_norm":1,"steps_per_s":9}\n{"step":6,"lo'));
  const r = runCli(["-q", "train", "--resume", dir], { cwd });
  assert.equal(r.code, 0, r.stderr);
  const steps = fs.readFileSync(path.join(dir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => (JSON.parse(l) as { step: number }).step);
  assert.deepEqual(steps, [1, 2, 3, 4, 5, 6, 7, 8]);
});

// ---- item 3: two samplers, one new --out

test("two diffx sample runs into the same new --out: one writes it, the other is refused", async () => {
  const out = path.join(cwd, "race-out");
  const args = (prompt: string): string[] => ["sample", RUN, "--prompt", prompt, "--n", "24", "--batch-size", "2", "--out", out];
  const [a, b] = await Promise.all([runCliAsync(args("a red circle"), cwd), runCliAsync(args("a blue square"), cwd)]);
  const results = [a, b].sort((x, y) => x.code - y.code);
  assert.equal(results[0].code, 0, results[0].stderr);
  assertRefused(results[1], { code: 2, message: [/--out .*race-out: (another diffx process \(pid \d+\) is writing samples into it|already exists and is not empty)/] }, "second sampler");
  const records = fs.readFileSync(path.join(out, "samples.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { file: string; prompt: string; sha256: string });
  assert.equal(records.length, 24);
  assert.equal(new Set(records.map((r) => r.prompt)).size, 1, "one run's prompts");
  const { createHash } = await import("node:crypto");
  for (const r of records) assert.equal(createHash("sha256").update(fs.readFileSync(path.join(out, r.file))).digest("hex"), r.sha256, r.file);
  assert.ok(!fs.existsSync(path.join(out, ".lock")), "the claim is released");
});

test("sample --out held by a live diffx (its lock) is refused; a dead one's lock on an empty folder is taken over", () => {
  const held = path.join(cwd, "held-out");
  fs.mkdirSync(held, { recursive: true });
  fs.writeFileSync(path.join(held, ".lock"), `${process.pid}\n`); // this test process: alive
  refused("held --out", ["sample", RUN, "--prompt", "a red circle", "--n", "1", "--out", held], { code: 2, message: [new RegExp(`--out .*held-out: another diffx process \\(pid ${process.pid}\\) is writing samples into it`)] });
  const stale = path.join(cwd, "stale-out");
  fs.mkdirSync(stale, { recursive: true });
  fs.writeFileSync(path.join(stale, ".lock"), "2147483646\n"); // no such process
  const r = runCli(["-q", "sample", RUN, "--prompt", "a red circle", "--n", "1", "--out", stale], { cwd });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(fs.readdirSync(stale).sort(), ["grid.png", "manifest.json", "sample-0000.png", "samples.jsonl"]);
});

// ---- item 9: a sample count that cannot fit is refused up front

test("sample --n 1000000000 is refused at once (no heap exhaustion minutes later)", () => {
  const t0 = Date.now();
  refused("huge --n", ["sample", RUN, "--prompt", "a red circle", "--n", "1000000000", "--out", path.join(cwd, "out-huge")], { code: 2, message: [/--n 1000000000: at most 100000 samples per call/] });
  assert.ok(Date.now() - t0 < 30_000, "refused before any sampling");
});

// ---- extreme but finite inputs: a clear error, never a silently black image with exit 0

test("sample with an eta that overflows float32: exit 1 naming the settings, no PNG written", () => {
  const out = path.join(cwd, "out-eta");
  const r = runCli(["sample", RUN, "--prompt", "a red circle", "--n", "2", "--sampler", "ddim", "--eta", "1e308", "--out", out], { cwd });
  assertRefused(r, { code: 1, message: [/sampling produced NaN pixel values \(sample 0\): the arithmetic overflowed with guidance \S+, ddim 4 steps, eta 1e\+308/] }, "eta 1e308");
  assert.deepEqual(fs.readdirSync(out).filter((f) => f.endsWith(".png")), []);
  assert.equal((JSON.parse(fs.readFileSync(path.join(out, "manifest.json"), "utf8")) as { status: string }).status, "failed");
});
