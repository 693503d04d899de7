/**
 * Bad inputs through the real CLI, part 3 (issue 21, item 1, and import's skipped files): `data build --force` and
 * `data import --force` replace only a folder whose manifest says it is a diffx dataset and
 * that holds nothing else. A training run, an eval, a project with its own manifest.json, a
 * folder with an unreadable manifest or a dataset someone added files to is refused, with or
 * without --force, and left exactly as it was; the message never suggests --force for them.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { runCli, tempDir } from "../helpers/cli.js";
import { artImportFolder, assertRefused, assertUntouched, TEXT_BODY, writeConfig, type Expect } from "./helpers.js";

const cwd = fs.realpathSync(tempDir("diffx-bad-force-"));
let config = "";
let otherSeed = "";
let importFrom = "";

function refused(label: string, args: string[], expect: Expect): void {
  const r = assertUntouched([cwd], () => runCli(args, { cwd }), label);
  assertRefused(r, expect, label);
  assert.doesNotMatch(r.stderr, /use --force/, `${label}: must not suggest --force`);
}

/** A folder with the given files (relative path → content). */
function folder(name: string, files: Record<string, string>): string {
  const dir = path.join(cwd, "targets", name);
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

/** Both `data build … --out DIR` and `data import … --out DIR`, each with and without --force. */
function refusedEverywhere(label: string, dir: string, message: RegExp): void {
  for (const force of [[], ["--force"]]) {
    refused(`${label}: build ${force.join("")}`, ["data", "build", config, "--out", dir, ...force], { code: 2, message: [message, /not a diffx dataset folder/, /refusing to replace it, with or without --force/] });
    refused(`${label}: import ${force.join("")}`, ["data", "import", "--kind", "art", "--from", importFrom, "--size", "16", "--out", dir, ...force], { code: 2, message: [message, /not a diffx dataset folder/] });
  }
}

before(() => {
  config = writeConfig(cwd, "text.yaml", TEXT_BODY);
  otherSeed = writeConfig(cwd, "other.yaml", TEXT_BODY.replace("seed: 3", "seed: 4"));
  importFrom = artImportFolder(path.join(cwd, "import-src"));
});

test("--force refuses a training run folder (its manifest.json is a run manifest)", () => {
  const run = folder("a-run", {
    "manifest.json": JSON.stringify({ format: "diffx-run/1", kind: "train", outputs: {} }),
    "config.yaml": "name: x\n",
    "checkpoints/step-2/params.bin": "weights",
    "metrics.jsonl": '{"step":1}\n',
  });
  refusedEverywhere("run folder", run, /targets\/a-run exists and is not a diffx dataset folder \(it is a diffx run folder\)/);
  refused("data verify of a run folder", ["data", "verify", run], { code: 2, message: [/targets\/a-run: a diffx run folder, not a dataset folder/] });
});

test("--force refuses a project folder that happens to hold a manifest.json", () => {
  const web = folder("web", { "manifest.json": '{ "name": "my-app", "short_name": "app" }', "src/index.ts": "export {};\n", "package.json": "{}" });
  refusedEverywhere("web project", web, /targets\/web exists .*manifest\.json is not a diffx dataset manifest/);
});

test("an unreadable manifest.json is not taken for a dataset (and --force is not suggested)", () => {
  const broken = folder("broken", { "manifest.json": '{ "format": 1, "kind": "art", ', "notes.txt": "mine" });
  refusedEverywhere("unreadable manifest", broken, /targets\/broken exists .*invalid JSON/);
});

test("--force refuses a dataset folder that holds files of someone else's", () => {
  const r = runCli(["-q", "data", "build", config, "--out", path.join(cwd, "targets", "extended")], { cwd });
  assert.equal(r.code, 0, r.stderr);
  fs.writeFileSync(path.join(cwd, "targets", "extended", "my-notes.md"), "do not delete");
  refused("dataset + extra file", ["data", "build", otherSeed, "--out", path.join(cwd, "targets", "extended"), "--force"], {
    code: 2,
    message: [/targets\/extended exists and is not a diffx dataset folder \(it holds files that are not part of the dataset: my-notes\.md\)/],
  });
});

test("a file in the way of --out is a usage error, not an internal one", () => {
  fs.writeFileSync(path.join(cwd, "a-file"), "x");
  refused("file in the way", ["data", "build", config, "--out", path.join(cwd, "a-file", "ds")], { code: 2, message: [/a-file\/ds: a file is in the way of the dataset folder/] });
});

test("--force still replaces a diffx dataset (with its contact sheet), and only with --force", () => {
  const dir = path.join(cwd, "targets", "dataset");
  let r = runCli(["-q", "data", "build", config, "--out", dir], { cwd });
  assert.equal(r.code, 0, r.stderr);
  r = runCli(["-q", "data", "show", dir], { cwd });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(fs.existsSync(path.join(dir, "contact.png")));
  const without = assertUntouched([cwd], () => runCli(["data", "build", otherSeed, "--out", dir], { cwd }), "different dataset without --force");
  assertRefused(without, { code: 2, message: [/targets\/dataset already holds a different dataset .*; use --force to replace it/] }, "different dataset without --force");
  r = runCli(["data", "build", otherSeed, "--out", dir, "--force"], { cwd });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /replaced the previous dataset/);
  assert.ok(!fs.existsSync(path.join(dir, "contact.png")), "the old dataset's files are gone");
});

test("import says which files it did not import (hidden ones too), and follows symbolic links to images", () => {
  const from = artImportFolder(path.join(cwd, "import-mixed"));
  fs.writeFileSync(path.join(from, "photo.webp"), "RIFF....WEBP");
  fs.writeFileSync(path.join(from, "notes.md"), "# my notes\n");
  fs.writeFileSync(path.join(from, ".DS_Store"), "");
  fs.mkdirSync(path.join(from, "more"));
  fs.symlinkSync(path.join(from, "a.png"), path.join(from, "d.png"));
  fs.writeFileSync(path.join(from, "d.txt"), "a linked picture");
  const r = runCli(["data", "import", "--kind", "art", "--from", from, "--size", "16", "--out", path.join(cwd, "imported-mixed")], { cwd });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /warning: not imported \(only PNG and JPEG images, with their captions, are read; folders are not searched\): more\/, notes\.md, photo\.webp; hidden: \.DS_Store\n/);
  assert.match(r.stdout, /imported .*imported-mixed: 4 pairs/);
});
