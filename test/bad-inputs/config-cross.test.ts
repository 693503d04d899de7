/**
 * Bad inputs through the real CLI, part 5 (issue 21, items 5 and 7): constraints between config
 * keys are checked when the config is loaded — `config show`, `train`, `eval` and `data build`
 * refuse before any work, naming the key, where it was set and where the other key came from —
 * and a diverged training gives advice that can be followed as printed.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { runCli, tempDir } from "../helpers/cli.js";
import { assertRefused, assertUntouched, TEXT_BODY, writeConfig, type Expect } from "./helpers.js";

const cwd = fs.realpathSync(tempDir("diffx-bad-cross-"));
let config = "";

function refused(label: string, args: string[], expect: Expect): void {
  const r = assertUntouched([cwd], () => runCli(args, { cwd }), label);
  assertRefused(r, expect, label);
}

before(() => {
  config = writeConfig(cwd, "text.yaml", TEXT_BODY);
});

// ---- item 5

test("sample.steps above diffusion.timesteps: config show, train, eval and data build refuse before any work", () => {
  const set = ["--set", "diffusion.timesteps=1"];
  const message = [/ci-tiny\.yaml:\d+: sample\.steps: 4 sampling steps cannot be taken in diffusion\.timesteps = 1/, /diffusion\.timesteps from --set diffusion\.timesteps=1/];
  refused("config show", ["config", "show", config, ...set], { code: 2, message });
  refused("train", ["train", config, ...set], { code: 2, message });
  refused("eval", ["eval", config, ...set], { code: 2, message });
  refused("data build", ["data", "build", config, ...set], { code: 2, message });
});

test("an eval variant whose own override breaks a rule is named by its index and name", () => {
  const file = writeConfig(cwd, "variants.yaml", `${TEXT_BODY}eval:\n  variants:\n    - { name: fine }\n    - { name: greedy, sample: { steps: 500 } }\n`);
  refused("variant steps", ["eval", file], { code: 2, message: [/variants\.yaml:\d+: eval\.variants\.1\.sample\.steps: variant 'greedy': 500 sampling steps cannot be taken in diffusion\.timesteps = 100/] });
  const model = writeConfig(cwd, "variant-model.yaml", `${TEXT_BODY}eval:\n  variants:\n    - { name: fine }\n    - { name: odd, model: { groups: 3 } }\n`);
  refused("variant model", ["config", "show", model], { code: 2, message: [/eval\.variants\.1\.model\.groups: variant 'odd': 3 GroupNorm groups do not divide a feature width of 8/] });
});

test("model shape rules are checked at load: groups, attention, resolution, text heads, sketch conditioning without sketches", () => {
  const cases: [string[], RegExp][] = [
    [["model.groups=3"], /--set model\.groups=3: model\.groups: 3 GroupNorm groups do not divide a feature width of 8 \(from model\.channels \[8, 16\]\)/],
    [["model.attention=[2]"], /model\.attention: 2 px is not a UNet level resolution \(levels are at 8, 4 px\)/],
    [["model.resolution=6", "model.channels=[8,16,16]", "model.attention=[]"], /model\.resolution: 6 px cannot be halved 2 times/],
    [["model.text_heads=3"], /model\.text_heads: 3 heads do not divide model\.text_dim = 16/],
    [["model.time_dim=6", "model.time_dim=7"], /model\.time_dim: must be even and at least 4, got 7/],
    [["model.conditioning=sketch"], /model\.conditioning: sketch needs a dataset with sketches, but dataset\.kind art has none/],
  ];
  for (const [sets, message] of cases) refused(sets.join(" "), ["train", config, ...sets.flatMap((s) => ["--set", s])], { code: 2, message: [message] });
});

// ---- item 7

test("a diverged run without a checkpoint says so, and its advice works as printed", () => {
  const dir = path.join(cwd, "runs", "diverged");
  const r = runCli(["train", config, "--set", "train.lr=1e9", "--set", "train.steps=6", "--set", "train.checkpoint_every=100", "--run-dir", dir], { cwd });
  assertRefused(r, { code: 1, message: [/loss is NaN at step \d+; training stopped \(train\.lr 1000000000 is likely too high/, /No checkpoint was written before it, so there is nothing to resume/] }, "diverged");
  assert.doesNotMatch(r.stderr, /--resume/);
  const m = /Start a new run with a lower learning rate: diffx (train \S+ --set train\.lr=0\.0002)$/m.exec(r.stderr);
  assert.ok(m, r.stderr);
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8")) as { status: string };
  assert.equal(manifest.status, "failed");
  assert.ok(!fs.existsSync(path.join(dir, ".lock")));
  const follow = runCli(["-q", ...m[1].split(" "), "--run-dir", path.join(cwd, "runs", "followed")], { cwd });
  assert.equal(follow.code, 0, follow.stderr);
});

test("a diverged run with a checkpoint: why resuming does not help, and --resume --set names the new-run command", () => {
  const dir = path.join(cwd, "runs", "diverged-ckpt");
  const r = runCli(["train", config, "--set", "train.lr=1e9", "--set", "train.steps=6", "--set", "train.checkpoint_every=1", "--run-dir", dir], { cwd });
  assertRefused(r, { code: 1, message: [/The checkpoint at step \d+ is intact, but resuming would repeat the same steps and diverge again/, /diffx train .*diverged-ckpt\/config\.yaml --set train\.lr=0\.0002/] }, "diverged with checkpoint");
  refused("resume with --set", ["train", "--resume", dir, "--set", "train.lr=1e-5"], { code: 2, message: [/--set cannot change a run being resumed .*start a new run: diffx train .*diverged-ckpt\/config\.yaml --set train\.lr=1e-5/] });
});
