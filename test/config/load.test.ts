import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { createHash } from "node:crypto";
import { loadConfig } from "../../src/config/load.js";
import { editDistance, nearestKey } from "../../src/config/suggest.js";
import { UsageError } from "../../src/errors.js";
import { runCli, tempDir, ROOT } from "../helpers/cli.js";

function write(dir: string, name: string, text: string): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
}

function usageMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof UsageError, `expected UsageError, got ${String(err)}`);
    return err.message;
  }
  assert.fail("expected an error");
}

test("extends merges parent first, child wins, paths relative to the file", () => {
  const dir = tempDir();
  fs.mkdirSync(path.join(dir, "sub"));
  write(dir, "base.yaml", "seed: 7\ntrain:\n  steps: 100\n  lr: 0.5\n");
  const child = write(path.join(dir, "sub"), "child.yaml", "extends: ../base.yaml\ntrain:\n  steps: 3\n");
  const { config } = loadConfig(child);
  assert.equal(config.seed, 7);
  assert.equal(config.train.steps, 3);
  assert.equal(config.train.lr, 0.5);
  assert.equal(config.train.batch_size, 16, "schema default filled in");
});

test("--set overrides are typed by the schema", () => {
  const dir = tempDir();
  const f = write(dir, "c.yaml", "name: x\n");
  const { config } = loadConfig(f, ["train.steps=7", "model.channels=[8, 16, 32]", "train.flip=true", "name=123", "sample.guidance=1.5"]);
  assert.equal(config.train.steps, 7);
  assert.deepEqual(config.model.channels, [8, 16, 32]);
  assert.equal(config.train.flip, true);
  assert.equal(config.name, "123", "a string key keeps the literal text");
  assert.equal(config.sample.guidance, 1.5);
});

test("the config hash is sha256 of the canonical (sorted-key) JSON", () => {
  const dir = tempDir();
  const a = write(dir, "a.yaml", "seed: 1\ntrain: { steps: 5, lr: 0.1 }\n");
  const b = write(dir, "b.yaml", "train: { lr: 0.1, steps: 5 }\nseed: 1\n");
  const la = loadConfig(a);
  assert.equal(la.hash, loadConfig(b).hash, "key order does not matter");
  assert.notEqual(la.hash, loadConfig(a, ["seed=2"]).hash);
  // independent canonicalisation: recursively sorted keys through JSON.stringify's replacer
  const sorted = JSON.stringify(la.config, (_k, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([x], [y]) => (x < y ? -1 : 1))) : v,
  );
  assert.equal(la.hash, createHash("sha256").update(sorted).digest("hex"));
});

test("unknown key names file, line, key path and suggests the nearest key", () => {
  const dir = tempDir();
  const f = write(dir, "typo.yaml", "seed: 1\ntrain:\n  stpes: 5\n");
  const msg = usageMessage(() => loadConfig(f));
  assert.match(msg, /typo\.yaml:3: train\.stpes: unknown key \(did you mean train\.steps\?\)/);
});

test("wrong type names file and key path and what was expected", () => {
  const dir = tempDir();
  const f = write(dir, "type.yaml", "train:\n  batch_size: lots\n");
  assert.match(usageMessage(() => loadConfig(f)), /type\.yaml:2: train\.batch_size: expected number/);
});

test("bad --set: unknown key, bad value, missing '='", () => {
  const dir = tempDir();
  const f = write(dir, "c.yaml", "{}\n");
  assert.match(usageMessage(() => loadConfig(f, ["train.stpes=3"])), /--set train\.stpes=3: unknown key train\.stpes \(did you mean train\.steps\?\)/);
  assert.match(usageMessage(() => loadConfig(f, ["train.steps=abc"])), /--set train\.steps=abc: train\.steps: expected number/);
  assert.match(usageMessage(() => loadConfig(f, ["train.steps"])), /expected key\.path=value/);
});

test("extends cycle and missing parent are detected", () => {
  const dir = tempDir();
  write(dir, "a.yaml", "extends: b.yaml\n");
  write(dir, "b.yaml", "extends: a.yaml\n");
  assert.match(usageMessage(() => loadConfig(path.join(dir, "a.yaml"))), /extends: cycle detected \(a\.yaml → b\.yaml → a\.yaml\)|cycle detected/);
  const m = write(dir, "m.yaml", "extends: nowhere.yaml\n");
  assert.match(usageMessage(() => loadConfig(m)), /m\.yaml: extends: file not found: nowhere\.yaml/);
});

test("malformed YAML and alias bombs are refused with the file", () => {
  const dir = tempDir();
  const bad = write(dir, "bad.yaml", "train: [\n");
  assert.match(usageMessage(() => loadConfig(bad)), /bad\.yaml:\d+: invalid YAML/);
  let bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (let i = 1; i < 9; i++) bomb += `${"b".repeat(i)}: &${"b".repeat(i)} [${Array(10).fill(i === 1 ? "*a" : "*" + "b".repeat(i - 1)).join(", ")}]\n`;
  const f = write(dir, "bomb.yaml", bomb);
  assert.match(usageMessage(() => loadConfig(f)), /bomb\.yaml: invalid YAML: .*[Aa]lias/);
});

test("edit distance and suggestions", () => {
  assert.equal(editDistance("stpes", "steps"), 1); // one transposition
  assert.equal(editDistance("kitten", "sitting"), 3);
  assert.equal(nearestKey("batchsize", ["batch_size", "steps"]), "batch_size");
  assert.equal(nearestKey("zzzzzz", ["steps", "lr"]), null);
});

test("CLI: config show prints the resolved YAML with the override and a hash; errors exit 2 without a stack", () => {
  const r = runCli(["config", "show", "configs/quickstart.yaml", "--set", "train.steps=7"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ {2}steps: 7$/m);
  assert.match(r.stdout, /config hash: [0-9a-f]{64}/);
  const dir = tempDir();
  const f = write(dir, "typo.yaml", "train:\n  stpes: 5\n");
  const e = runCli(["config", "show", f]);
  assert.equal(e.code, 2);
  assert.match(e.stderr, /typo\.yaml:2: train\.stpes: unknown key \(did you mean train\.steps\?\)/);
  assert.doesNotMatch(e.stderr, /\n\s+at /, "no stack trace");
  assert.equal(e.stderr.trim().split("\n").length, 1, "one line");
});

test("every shipped config loads", () => {
  for (const f of fs.readdirSync(path.join(ROOT, "configs"))) {
    if (f.endsWith(".yaml")) loadConfig(path.join(ROOT, "configs", f));
  }
});

test("README's config reference is the one generated from the schema", () => {
  const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
  const r = runCli(["config", "reference"]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(readme.includes(r.stdout.trim()), "README.md config reference is stale: regenerate with `npx diffx config reference`");
});
