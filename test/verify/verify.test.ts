/**
 * `diffx verify` end to end through the real CLI, on one configs/ci-tiny.yaml run (wasm, 8
 * steps, checkpoints at 4 and 8):
 * - an untouched run verifies (every stage, and --steps 4) with exit 0;
 * - a flipped byte in a checkpoint, a changed number in metrics.jsonl, a deleted or an added
 *   file: exit 1 with a row naming the file (tamper check); with the manifest forged to match
 *   the edits, the re-run catches them;
 * - usage errors exit 2;
 * - re-running on another backend (cpu) falls back to numbers within verify.rtol and says so;
 * - a 2-worker run is re-run on 2 workers and matches exactly;
 * - two trainings of the same config in separate processes give identical output hashes.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { ROOT, runCli, tempDir, type CliResult } from "../helpers/cli.js";

const TINY = path.join(ROOT, "configs", "ci-tiny.yaml");

interface Report {
  ok: boolean;
  notes: string[];
  checks: { check: string; status: string; comparison: string; summary: string; notes: string[]; mismatches: number }[];
  mismatches: { check: string; file: string; where: string; expected: string; got: string }[];
}

interface Manifest {
  outputs: Record<string, string>;
  checkpoints: Record<string, Record<string, string>>;
}

let dir = "";
let run = "";

before(() => {
  dir = tempDir("diffx-verify-");
  const r = runCli(["train", TINY, "--run-dir", "run"], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  run = path.join(dir, "run");
});

function verify(args: string[], backend?: string): { r: CliResult; report: Report | null } {
  const r = runCli([...(backend ? ["--backend", backend] : []), "--json", "verify", ...args], { cwd: dir });
  let report: Report | null = null;
  try {
    report = JSON.parse(r.stdout) as Report;
  } catch {
    /* usage errors print no report */
  }
  return { r, report };
}

function copyRun(name: string): string {
  const to = path.join(dir, name);
  fs.cpSync(run, to, { recursive: true });
  return to;
}

const sha = (file: string): string => createHash("sha256").update(fs.readFileSync(file)).digest("hex");
const readManifest = (r: string): Manifest => JSON.parse(fs.readFileSync(path.join(r, "manifest.json"), "utf8")) as Manifest;
const writeManifest = (r: string, m: Manifest): void => fs.writeFileSync(path.join(r, "manifest.json"), JSON.stringify(m, null, 2));

function flipByte(file: string, at: number): void {
  const b = fs.readFileSync(file);
  b[at] ^= 0x01;
  fs.writeFileSync(file, b);
}

/** Change the loss of the record at `step` in metrics.jsonl by a factor. */
function scaleLoss(r: string, step: number, factor: number): void {
  const file = path.join(r, "metrics.jsonl");
  const lines = fs.readFileSync(file, "utf8").split("\n");
  const i = lines.findIndex((l) => l.startsWith("{") && (JSON.parse(l) as { step: number }).step === step);
  const rec = JSON.parse(lines[i]) as { loss: number };
  rec.loss *= factor;
  lines[i] = JSON.stringify(rec);
  fs.writeFileSync(file, lines.join("\n"));
}

function names(report: Report | null, check: string): string[] {
  return (report?.mismatches ?? []).filter((m) => m.check === check).map((m) => m.file);
}

test("an untouched run verifies at every stage: exit 0, exact comparison on the recorded backend", () => {
  const { r, report } = verify(["run", "--stage", "all"]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.ok(report?.ok);
  assert.deepEqual(
    report.checks.map((c) => [c.check, c.status, c.comparison]),
    [
      ["files", "match", "exact"],
      ["data", "match", "exact"],
      ["train", "match", "exact"],
      ["sample", "match", "exact"],
    ],
  );
  assert.match(report.checks[2].summary, /all 8 steps/);
  assert.match(report.checks[2].summary, /2 checkpoints/);
  // the temporary folder is gone
  assert.deepEqual(fs.readdirSync(dir).filter((n) => n.startsWith("diffx-verify-")), []);
});

test("--steps 4 re-runs only the first four steps and matches the metrics and checkpoint recorded at 4", () => {
  const { r, report } = verify(["run", "--stage", "train", "--steps", "4"]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const train = report?.checks.find((c) => c.check === "train");
  assert.match(train?.summary ?? "", /first 4 steps.*1 checkpoint/);
});

test("a flipped byte in a checkpoint: exit 1 with a table row naming the file", () => {
  const copy = copyRun("flipped");
  flipByte(path.join(copy, "checkpoints", "step-8", "params.bin"), 1000);
  const r = runCli(["verify", "flipped", "--stage", "data"], { cwd: dir });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /MISMATCH: 1 difference\n/);
  assert.match(r.stdout, /^check\s+file\s+where\s+expected\s+got$/m);
  assert.match(r.stdout, /^files\s+checkpoints\/step-8\/params\.bin\s+sha256 [0-9a-f]{16}…\s+sha256 [0-9a-f]{16}…$/m);
});

test("one changed number in metrics.jsonl: exit 1 naming metrics.jsonl", () => {
  const copy = copyRun("metrics");
  scaleLoss(copy, 2, 1.5);
  const { r, report } = verify(["metrics", "--stage", "data"]);
  assert.equal(r.code, 1, r.stderr);
  assert.ok(report, r.stderr);
  assert.deepEqual(names(report, "files"), ["metrics.jsonl"]);
});

test("a deleted file and an unexpected one: exit 1 naming both", () => {
  const copy = copyRun("deleted");
  fs.rmSync(path.join(copy, "samples", "grid.png"));
  fs.writeFileSync(path.join(copy, "notes.txt"), "added later\n");
  const { r, report } = verify(["deleted", "--stage", "data"]);
  assert.equal(r.code, 1, r.stderr);
  assert.ok(report, r.stderr);
  assert.deepEqual(
    report.mismatches.map((x) => [x.file, x.got.split(",")[0]]),
    [
      ["samples/grid.png", "missing"],
      ["notes.txt", "unexpected file"],
    ],
  );
});

test("a forged manifest (hashes updated to match the edits) passes the tamper check, but the re-run (--steps 4) names the checkpoint and metrics.jsonl", () => {
  const copy = copyRun("forged");
  const file = path.join(copy, "checkpoints", "step-4", "ema.bin");
  flipByte(file, 2000);
  scaleLoss(copy, 2, 1.5);
  const m = readManifest(copy);
  m.outputs["checkpoints/step-4/ema.bin"] = sha(file);
  m.checkpoints["4"]["ema.bin"] = sha(file);
  m.outputs["metrics.jsonl"] = sha(path.join(copy, "metrics.jsonl"));
  writeManifest(copy, m);
  const { r, report } = verify(["forged", "--steps", "4", "--stage", "train"]);
  assert.equal(r.code, 1, r.stderr);
  assert.deepEqual(names(report, "files"), [], "the forged manifest passes the tamper check");
  const rows = report?.mismatches.filter((x) => x.check === "train") ?? [];
  assert.deepEqual(
    rows.map((x) => [x.file, x.where]),
    [
      ["metrics.jsonl", "step 2: loss"],
      ["checkpoints/step-4/ema.bin", ""],
    ],
  );
  assert.equal(Number(rows[0].expected), Number(rows[0].got) * 1.5);
});

test("usage errors exit 2: unknown run, bad stage, K out of range, --steps with a stage that does not train", () => {
  for (const args of [["nope"], ["run", "--stage", "bogus"], ["run", "--steps", "9"], ["run", "--stage", "data", "--steps", "4"]]) {
    const r = runCli(["verify", ...args], { cwd: dir });
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /nope: no such run folder|--stage|--steps/);
  }
});

test("re-run on another backend (cpu): says so and compares numbers within verify.rtol", () => {
  const { r, report } = verify(["run", "--stage", "train", "--steps", "4"], "cpu");
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const train = report?.checks.find((c) => c.check === "train");
  assert.equal(train?.comparison, "numeric");
  assert.ok(train?.notes.some((n) => /backend differs: recorded wasm, here cpu/.test(n)), JSON.stringify(train?.notes));
  assert.match(train?.summary ?? "", /within rtol 0\.001/);
});

test("a data-parallel run (2 workers) is re-run on 2 workers and reproduces exactly", () => {
  const r = runCli(["train", TINY, "--run-dir", "two", "--devices", "2", "--until-step", "4"], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  const { r: v, report } = verify(["two", "--stage", "train"]);
  assert.equal(v.code, 0, v.stderr + v.stdout);
  const train = report?.checks.find((c) => c.check === "train");
  assert.equal(train?.comparison, "exact", JSON.stringify(train?.notes));
  assert.match(train?.summary ?? "", /all 4 steps/);
});

test("two trainings of the same config in separate processes give identical output hashes", () => {
  const r = runCli(["train", TINY, "--run-dir", "run2"], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  const a = readManifest(run);
  const b = readManifest(path.join(dir, "run2"));
  // metrics.jsonl holds steps_per_s (wall-clock): its hash differs, its records without it do not
  const EXCLUDED = ["metrics.jsonl"];
  const strip = (o: Record<string, string>): Record<string, string> => Object.fromEntries(Object.entries(o).filter(([k]) => !EXCLUDED.includes(k)));
  assert.deepEqual(strip(b.outputs), strip(a.outputs));
  assert.ok(Object.keys(strip(a.outputs)).length >= 20, "checkpoints, plots, samples, config, split, tokenizer");
  assert.deepEqual(b.checkpoints, a.checkpoints);
  const records = (d: string) =>
    fs
      .readFileSync(path.join(d, "metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => {
        const { steps_per_s, ...rest } = JSON.parse(l) as Record<string, number>;
        assert.equal(typeof steps_per_s, "number");
        return rest;
      });
  assert.deepEqual(records(path.join(dir, "run2")), records(run));
});
