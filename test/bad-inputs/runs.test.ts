/**
 * Bad inputs through the real CLI, part 2: what goes wrong around trained runs — resuming a
 * missing, finished, edited or damaged run, training into a used folder, sampling with the
 * wrong kind of condition or an unreadable sketch, exporting a run without checkpoints. Two
 * tiny runs (text and sketch conditioned) are trained once in `before`; every case checks exit
 * code, message, no stack trace, and that no file under the working folder changed.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { runCli, tempDir } from "../helpers/cli.js";
import { assertRefused, assertUntouched, bombPng, goodPng, runCliAsync, SKETCH_BODY, TEXT_BODY, writeConfig, type Expect } from "./helpers.js";

const cwd = fs.realpathSync(tempDir("diffx-bad-runs-"));
const TEXT = path.join(cwd, "runs", "text");
const SKETCH = path.join(cwd, "runs", "sketch");
let textConfig = "";

function refused(label: string, args: string[], expect: Expect): void {
  const r = assertUntouched([cwd], () => runCli(args, { cwd }), label);
  assertRefused(r, expect, label);
}

/** A copy of the text run, changed by `edit` (made before the snapshot of the case). */
function copyOfText(name: string, edit: (dir: string) => void): string {
  const dir = path.join(cwd, "runs", name);
  fs.cpSync(TEXT, dir, { recursive: true });
  edit(dir);
  return dir;
}

function input(name: string, bytes: string | Buffer): string {
  const f = path.join(cwd, "inputs", name);
  fs.mkdirSync(path.dirname(f), { recursive: true });
  fs.writeFileSync(f, bytes);
  return f;
}

before(async () => {
  textConfig = writeConfig(cwd, "text.yaml", TEXT_BODY);
  const sketchConfig = writeConfig(cwd, "sketch.yaml", SKETCH_BODY);
  const [t, s] = await Promise.all([runCliAsync(["-q", "train", textConfig, "--run-dir", TEXT], cwd), runCliAsync(["-q", "train", sketchConfig, "--run-dir", SKETCH], cwd)]);
  assert.equal(t.code, 0, t.stderr);
  assert.equal(s.code, 0, s.stderr);
});

test("resume of a missing run: exit 2 naming the folder", () => {
  refused("resume missing", ["train", "--resume", "runs/never-was"], { code: 2, message: [/runs\/never-was: no such run folder/] });
});

test("resume of a finished run: exit 2, the run untouched", () => {
  refused("resume finished", ["train", "--resume", TEXT], { code: 2, message: [/runs\/text: the run already finished \(2 steps\); nothing to resume/] });
});

test("resume of a run whose config.yaml was edited: exit 2 naming the file", () => {
  const dir = copyOfText("edited", (d) => {
    const f = path.join(d, "config.yaml");
    fs.writeFileSync(f, fs.readFileSync(f, "utf8").replace("steps: 2", "steps: 3"));
  });
  refused("resume edited", ["train", "--resume", dir], { code: 2, message: [/runs\/edited\/config\.yaml was edited after the run started \(config hash/] });
});

test("resume from a truncated checkpoint: exit 1 naming the file; the run is not touched", () => {
  // recorded: the sha256 in manifest.json no longer matches; unrecorded (as a SIGKILL between
  // writing and recording it leaves a checkpoint): the reader finds it truncated
  for (const [name, recorded] of [["damaged", true], ["damaged-unrecorded", false]] as const) {
    const dir = copyOfText(name, (d) => {
      const mf = path.join(d, "manifest.json");
      const m = JSON.parse(fs.readFileSync(mf, "utf8")) as { status: string; step: number; checkpoints: Record<string, unknown>; outputs: Record<string, string> };
      Object.assign(m, { status: "interrupted", step: 1 });
      // as a run interrupted at step 1 leaves it: metrics.jsonl up to step 1, recorded so
      const metrics = path.join(d, "metrics.jsonl");
      fs.writeFileSync(metrics, fs.readFileSync(metrics, "utf8").split("\n")[0] + "\n");
      m.outputs["metrics.jsonl"] = createHash("sha256").update(fs.readFileSync(metrics)).digest("hex");
      if (!recorded) {
        delete m.checkpoints["1"];
        for (const rel of Object.keys(m.outputs)) if (rel.startsWith("checkpoints/step-1/")) delete m.outputs[rel];
      }
      fs.writeFileSync(mf, JSON.stringify(m, null, 2) + "\n");
      fs.rmSync(path.join(d, "checkpoints", "step-2"), { recursive: true });
      const bin = path.join(d, "checkpoints", "step-1", "params.bin");
      fs.truncateSync(bin, fs.statSync(bin).size - 6); // not even a whole number of floats
    });
    const message = recorded ? /checkpoints\/step-1\/params\.bin: changed since diffx wrote it/ : /checkpoints\/step-1\/params\.bin: truncated checkpoint/;
    refused(`resume ${name}`, ["train", "--resume", dir], { code: 1, message: [message] });
  }
});

test("train into a --run-dir that already holds a run: exit 2", () => {
  refused("run-dir taken", ["train", textConfig, "--run-dir", TEXT], { code: 2, message: [/runs\/text: already holds a run; choose another --run-dir or use --resume/] });
});

test("train into a --run-dir the file system refuses (under /proc): exit 1 at once, not Node's endless recursive mkdir", { skip: !fs.existsSync("/proc/self") && "no /proc here" }, () => {
  const r = runCli(["train", textConfig, "--run-dir", "/proc/diffx-no-such-folder"], { cwd, timeoutMs: 60_000 });
  assertRefused(r, { code: 1, message: [/cannot create \/proc\/diffx-no-such-folder \(ENOENT\)/] }, "run-dir under /proc");
});

test("sample: a prompt for a sketch model", () => {
  refused("prompt for sketch model", ["sample", SKETCH, "--prompt", "a red chair"], { code: 2, message: [/--prompt: this run's model is sketch-conditioned \(model\.conditioning: sketch\)/] });
});

test("sample: a sketch for a text model", () => {
  const sketch = input("sketch.png", goodPng(16, 250));
  refused("sketch for text model", ["sample", TEXT, "--sketch", sketch], { code: 2, message: [/--sketch: this run's model is text-conditioned \(model\.conditioning: text\)/] });
});

test("sample: an unreadable sketch (truncated PNG, zero bytes, a folder, a text file)", () => {
  const truncated = input("truncated.png", goodPng(16, 250).subarray(0, 50));
  refused("truncated sketch", ["sample", SKETCH, "--sketch", truncated], { code: 2, message: [/truncated\.png: not a readable image/] });
  const empty = input("empty.png", "");
  refused("empty sketch", ["sample", SKETCH, "--sketch", empty], { code: 2, message: [/empty\.png: not a readable image \(empty file, 0 bytes\)/] });
  const folder = path.join(cwd, "inputs", "a-folder.png");
  fs.mkdirSync(folder, { recursive: true });
  refused("folder sketch", ["sample", SKETCH, "--sketch", folder], { code: 2, message: [/a-folder\.png: is a folder, not an image/] });
  const text = input("words.png", "not a sketch at all\n");
  refused("text sketch", ["sample", SKETCH, "--sketch", text], { code: 2, message: [/words\.png: not a readable image \(.*unsupported image format/] });
});

test("sample: a decompression-bomb sketch is refused before decoding", () => {
  const bomb = input("bomb.png", bombPng());
  refused("bomb sketch", ["sample", SKETCH, "--sketch", bomb], { code: 2, message: [/bomb\.png: image too large/] });
});

test("export of a run without checkpoints: exit 1", () => {
  const dir = copyOfText("no-checkpoints", (d) => fs.rmSync(path.join(d, "checkpoints"), { recursive: true }));
  refused("export without checkpoints", ["export", dir], { code: 1, message: [/runs\/no-checkpoints: the run has no checkpoint yet \(train it first\)/] });
});

test("export of a folder that is not a run: exit 2", () => {
  fs.mkdirSync(path.join(cwd, "not-a-run"), { recursive: true });
  refused("export not a run", ["export", "not-a-run"], { code: 2, message: [/not-a-run: not a diffx run folder \(no config\.yaml\)/] });
});

test(
  "sample: an empty prompt, and a prompt with a control character, are refused like such captions at import",
  () => {
    refused("empty prompt", ["sample", TEXT, "--prompt", "", "--n", "1", "--out", path.join(cwd, "inputs", "empty-prompt")], { code: 2, message: [/--prompt: .*empty/] });
    refused("control prompt", ["sample", TEXT, "--prompt", "\u001b[31mred", "--n", "1", "--out", path.join(cwd, "inputs", "control-prompt")], { code: 2, message: [/--prompt: .*control character/] });
  },
);
