/**
 * `diffx data build | show | verify | import` through the real CLI (compiled dist/). The tests
 * share one working folder and run in order (each CLI start costs seconds, so calls are few).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { runCli, tempDir } from "../helpers/cli.js";
import { readPng } from "../../src/engine/image.js";

const cwd = tempDir();
const other = tempDir();

function writeConfig(dir: string, dataset: string): string {
  const file = path.join(dir, "exp.yaml");
  fs.writeFileSync(file, `name: cli-test\ndataset: ${dataset}\n`);
  return file;
}

test("data build: datasets/<name> under the cwd, same hash elsewhere, reuse, refuse, --out, --json", () => {
  const cfg = writeConfig(cwd, "{ kind: art, name: tiny-art, n: 4, image_size: 16, seed: 5 }");
  const r1 = runCli(["data", "build", cfg], { cwd });
  assert.equal(r1.code, 0, r1.stderr);
  const m = /built datasets\/tiny-art: 4 pairs, hash ([0-9a-f]{64})/.exec(r1.stdout);
  assert.ok(m, r1.stdout);
  const r2 = runCli(["--json", "data", "build", cfg], { cwd: other });
  assert.equal(r2.code, 0, r2.stderr);
  const j = JSON.parse(r2.stdout) as { hash: string; n: number; reused: boolean; dir: string };
  assert.equal(j.hash, m[1], "same hash in another folder");
  assert.equal(j.dir, path.join(fs.realpathSync(other), "datasets", "tiny-art"));
  const r3 = runCli(["data", "build", cfg], { cwd });
  assert.equal(r3.code, 0);
  assert.match(r3.stdout, /already holds this dataset/);
  const r4 = runCli(["data", "build", cfg, "--set", "dataset.seed=6"], { cwd });
  assert.equal(r4.code, 2);
  assert.match(r4.stderr, /already holds a different dataset.*--force/);
  const r5 = runCli(["-q", "data", "build", cfg, "--set", "dataset.seed=6", "--out", path.join(cwd, "elsewhere")], { cwd });
  assert.equal(r5.code, 0, r5.stderr);
  assert.ok(fs.existsSync(path.join(cwd, "elsewhere", "manifest.json")));
  const r6 = runCli(["data", "build", writeConfig(other, "{ kind: folder }")], { cwd: other });
  assert.equal(r6.code, 2);
  assert.match(r6.stderr, /nothing to generate/);
});

test("data show: summary and a contact sheet that is not part of the dataset", () => {
  const r = runCli(["data", "show", "datasets/tiny-art"], { cwd });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /kind\s+art/);
  assert.match(r.stdout, /pairs\s+4/);
  assert.match(r.stdout, /hash\s+[0-9a-f]{64}/);
  assert.match(r.stdout, /style: (\w[\w-]* 1(, )?){4}/);
  const sheet = readPng(path.join(cwd, "datasets", "tiny-art", "contact.png"));
  assert.ok(sheet.width > 4 * 16 && sheet.height > 16);
  const j = runCli(["--json", "data", "show", "datasets/tiny-art"], { cwd });
  const summary = JSON.parse(j.stdout) as { n: number; attributes: { style: { kind: string; counts: Record<string, number> } } };
  assert.equal(summary.n, 4);
  assert.equal(Object.values(summary.attributes.style.counts).reduce((a, b) => a + b, 0), 4);
});

test("data verify: exit 0 when intact, exit 1 naming a changed and a missing file, exit 2 for no dataset", () => {
  const ok = runCli(["data", "verify", "datasets/tiny-art"], { cwd });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /all 5 files match/);
  const f = path.join(cwd, "datasets", "tiny-art", "images", "0002.png");
  const bytes = fs.readFileSync(f);
  bytes[bytes.length - 13] ^= 0x80;
  fs.writeFileSync(f, bytes);
  fs.rmSync(path.join(cwd, "datasets", "tiny-art", "images", "0000.png"));
  const bad = runCli(["data", "verify", "datasets/tiny-art"], { cwd });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /images\/0002\.png \(changed\)/);
  assert.match(bad.stderr, /images\/0000\.png \(missing\)/);
  assert.doesNotMatch(bad.stderr, /at .*\.js:\d+/, "no stack trace");
  const none = runCli(["data", "verify", "nowhere"], { cwd });
  assert.equal(none.code, 2);
  assert.match(none.stderr, /nowhere: dataset folder not found/);
});

test("data import: failure names the file (exit 2, nothing written), then success", () => {
  const src = path.join(cwd, "photos");
  fs.mkdirSync(src);
  for (const f of ["0001", "0003"]) fs.copyFileSync(path.join(cwd, "datasets", "tiny-art", "images", `${f}.png`), path.join(src, `${f}.png`));
  fs.writeFileSync(path.join(src, "0001.txt"), "first");
  const fail = runCli(["data", "import", "--kind", "art", "--from", "photos"], { cwd });
  assert.equal(fail.code, 2);
  assert.match(fail.stderr, /0003\.png: no caption/);
  assert.equal(fs.existsSync(path.join(cwd, "datasets", "photos")), false);
  fs.writeFileSync(path.join(src, "0003.txt"), "second");
  const ok = runCli(["data", "import", "--kind", "art", "--from", "photos", "--size", "8"], { cwd });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /imported datasets\/photos: 2 pairs/);
  const kind = runCli(["data", "import", "--kind", "video", "--from", "photos"], { cwd });
  assert.equal(kind.code, 2);
  assert.match(kind.stderr, /--kind: expected one of art, sketch2render/);
});
