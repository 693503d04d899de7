import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { runCli, ROOT } from "../helpers/cli.js";

const COMMANDS = ["data build", "data import", "data show", "data verify", "train", "sample", "export", "eval", "fid", "stats", "verify", "doctor", "config show"];

test("--help lists every command of the study, and each has its own --help", () => {
  const r = runCli(["--help"]);
  assert.equal(r.code, 0);
  for (const c of new Set(COMMANDS.map((c) => c.split(" ")[0]))) assert.match(r.stdout, new RegExp(`^\\s+${c}\\b`, "m"), `${c} listed`);
  for (const opt of ["--backend", "--quiet", "--json", "--debug", "--version"]) assert.ok(r.stdout.includes(opt), opt);
  for (const c of COMMANDS) {
    const h = runCli([...c.split(" "), "--help"]);
    assert.equal(h.code, 0, `${c} --help`);
    assert.match(h.stdout, new RegExp(`Usage: diffx ${c}`), c);
  }
});

test("--version prints package.json's version", () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string };
  const r = runCli(["--version"]);
  assert.equal(r.code, 0);
  assert.equal(r.stdout.trim(), pkg.version);
});

test("usage errors exit 2 with one message: unknown command, unknown option, bad backend", () => {
  for (const args of [["bogus"], ["train", "--bogus"], ["--backend", "tpu", "doctor"]]) {
    const r = runCli(args);
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.stderr, /error:/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
});

test("doctor reports wasm usable and tfjs-node-gpu not usable (with the reason), in text and JSON", () => {
  const r = runCli(["doctor"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /✓ wasm/);
  assert.match(r.stdout, /✗ tensorflow\s+tfjs-node-gpu: (not installed|.*libtensorflow)/);
  const j = runCli(["--json", "doctor"]);
  assert.equal(j.code, 0, j.stderr);
  const info = JSON.parse(j.stdout) as { backends: { name: string; usable: boolean; reason?: string }[]; cpu: { cores: number }; onnxruntime: { usable: boolean; providers?: string[] } };
  const by = Object.fromEntries(info.backends.map((b) => [b.name, b]));
  assert.equal(by.wasm.usable, true);
  assert.equal(by.tensorflow.usable, false);
  assert.match(by.tensorflow.reason ?? "", /tfjs-node-gpu/);
  assert.ok(info.cpu.cores >= 1);
  assert.equal(info.onnxruntime.usable, true);
  assert.ok(info.onnxruntime.providers?.includes("cpu"));
});
