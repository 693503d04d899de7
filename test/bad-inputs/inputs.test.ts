/**
 * Bad inputs through the real CLI, part 1: configs, datasets, image imports, feature files,
 * stats tables, backends and devices. Each case runs one `diffx` command in a temporary working
 * folder and checks the exit code (2 usage/config/input, 1 runtime), that the one message names
 * the problem and where (file, key path, line, pair id), that there is no stack trace, and that
 * no file under the working folder (datasets/, runs/, the inputs) was created or changed.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import sharp from "sharp";
import { runCli, tempDir } from "../helpers/cli.js";
import { assertRefused, assertUntouched, artImportFolder, bombPng, npyFloat32, rehashDatasetManifest, sketchImportFolder, TEXT_BODY, truncatedJpeg, withDataset, writeConfig, type Expect } from "./helpers.js";

const cwd = fs.realpathSync(tempDir("diffx-bad-inputs-"));
const DATASET = path.join(cwd, "datasets", "bad-art");
let textConfig = "";

/** A sha256 hex digest of bytes. */
/** Copy a dataset folder, change one file with `edit`, and (optionally) re-hash the manifest so only the content is wrong. */
function derivedDataset(name: string, edit: (dir: string) => void, rehash: boolean): string {
  const dir = path.join(cwd, "hand", name);
  fs.cpSync(DATASET, dir, { recursive: true });
  edit(dir);
  if (rehash) rehashDatasetManifest(dir);
  return dir;
}

function refused(label: string, args: string[], expect: Expect): void {
  const r = assertUntouched([cwd], () => runCli(args, { cwd }), label);
  assertRefused(r, expect, label);
}

function file(name: string, text: string | Buffer): string {
  const f = path.join(cwd, "inputs", name);
  fs.mkdirSync(path.dirname(f), { recursive: true });
  fs.writeFileSync(f, text);
  return f;
}

before(() => {
  textConfig = writeConfig(cwd, "text.yaml", TEXT_BODY);
  const r = runCli(["-q", "data", "build", textConfig], { cwd });
  if (r.code !== 0) throw new Error(`data build failed: ${r.stderr}`);
});

// ---- configs

test("malformed YAML: exit 2 naming the file and line", () => {
  const f = file("malformed.yaml", "name: x\ntrain:\n  steps: 3\n   batch_size: [1, 2\n");
  refused("malformed YAML", ["train", f], { code: 2, message: [/malformed\.yaml:\d+: invalid YAML/] });
});

test("YAML alias bomb (billion laughs): refused quickly, exit 2", () => {
  const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  const names = "abcdefghi";
  for (let k = 1; k < names.length; k++) lines.push(`${names[k]}: &${names[k]} [${Array(9).fill(`*${names[k - 1]}`).join(",")}]`);
  const f = file("bomb.yaml", lines.join("\n") + "\n");
  refused("alias bomb", ["train", f], { code: 2, message: [/bomb\.yaml: invalid YAML: .*alias/i] });
});

test("unknown key: exit 2 with file:line, key path and a suggestion", () => {
  const f = writeConfig(path.join(cwd, "inputs"), "unknown.yaml", "train: { stesp: 3 }\n");
  refused("unknown key", ["train", f], { code: 2, message: [/unknown\.yaml:2: train\.stesp: unknown key \(did you mean train\.steps\?\)/] });
});

test("wrong type: exit 2 with file:line, key path and the expected type", () => {
  const f = writeConfig(path.join(cwd, "inputs"), "type.yaml", "train:\n  batch_size: lots\n");
  refused("wrong type", ["train", f], { code: 2, message: [/type\.yaml:3: train\.batch_size: expected number, received string/] });
});

test("negative steps: exit 2 naming train.steps", () => {
  const f = writeConfig(path.join(cwd, "inputs"), "negative.yaml", "train: { steps: -5 }\n");
  refused("negative steps", ["train", f], { code: 2, message: [/negative\.yaml:2: train\.steps: .*>=0/] });
});

test("--set of an unknown key and of a wrong value type: exit 2 naming the key", () => {
  refused("--set unknown", ["train", textConfig, "--set", "train.stpes=3"], { code: 2, message: [/--set train\.stpes=3: unknown key train\.stpes \(did you mean train\.steps\?\)/] });
  refused("--set type", ["train", textConfig, "--set", "train.lr=fast"], { code: 2, message: [/--set train\.lr=fast: train\.lr: expected number/] });
});

test("a dataset or experiment name of only dots (it would name datasets/ itself): exit 2", () => {
  const f = writeConfig(path.join(cwd, "inputs"), "dots.yaml", 'dataset: { name: "." }\n');
  refused("dataset.name .", ["data", "build", f], { code: 2, message: [/dots\.yaml:2: dataset\.name: must not be only dots/] });
  const g = writeConfig(path.join(cwd, "inputs"), "dots2.yaml", 'name: ".."\n');
  refused("name ..", ["train", g], { code: 2, message: [/dots2\.yaml:2: name: must not be only dots/] });
});

test("batch far larger than the dataset: exit 2 naming train.batch_size and the pair count", () => {
  const f = writeConfig(path.join(cwd, "inputs"), "batch.yaml", `${TEXT_BODY.replace("batch_size: 2", "batch_size: 1000")}`);
  refused("batch too large", ["train", f], { code: 2, message: [/batch\.yaml: train\.batch_size 1000 is more than 64× the 6 training pairs of .*bad-art; use at most 384/] });
});

test("--folds 1: exit 2", () => {
  refused("--folds 1", ["eval", textConfig, "--folds", "1"], { code: 2, message: [/--folds 1: k-fold cross-validation needs at least 2 folds/] });
});

test("--folds larger than the number of pairs: exit 2 naming the dataset", () => {
  refused("--folds 7", ["eval", textConfig, "--folds", "7"], { code: 2, message: [/--folds 7: the dataset .*bad-art has only 6 pair groups/] });
});

test("eval.folds: 1 in the config: exit 2 with file:line", () => {
  const f = writeConfig(path.join(cwd, "inputs"), "folds1.yaml", `${TEXT_BODY}eval: { folds: 1 }\n`);
  refused("eval.folds 1", ["eval", f], { code: 2, message: [/folds1\.yaml:\d+: eval\.folds: .*>=2/] });
});

test("extends to a missing file: exit 2 naming both files", () => {
  const f = file("orphan.yaml", "extends: base-that-is-not-here.yaml\nname: orphan\n");
  refused("extends missing", ["train", f], { code: 2, message: [/orphan\.yaml: extends: file not found: base-that-is-not-here\.yaml/] });
});

test("unknown backend: --backend and engine.backend are refused with exit 2", () => {
  refused("--backend cuda", ["--backend", "cuda", "train", textConfig], { code: 2, message: [/'--backend <name>' argument 'cuda' is invalid/] });
  const f = writeConfig(path.join(cwd, "inputs"), "backend.yaml", `${TEXT_BODY}engine: { backend: cuda }\n`);
  refused("engine.backend cuda", ["train", f], { code: 2, message: [/backend\.yaml:\d+: engine\.backend: .*"auto"\|"tensorflow"\|"wasm"\|"cpu"/] });
});

test("--devices larger than available (and 0): exit 2, nothing started", () => {
  refused("--devices 64", ["train", textConfig, "--devices", "64"], { code: 2, message: [/--devices 64: only \d+ CPU cores? here/] });
  refused("--devices 0", ["train", textConfig, "--devices", "0"], { code: 2, message: [/--devices 0: needs at least one device/] });
});

// ---- datasets used by a config

test("missing dataset folder (dataset.path): exit 2 naming the key and folder", () => {
  const f = writeConfig(path.join(cwd, "inputs"), "nodata.yaml", withDataset(TEXT_BODY, `{ kind: folder, path: no-such-dataset }`));
  refused("missing dataset", ["train", f], { code: 2, message: [/dataset\.path: .*no-such-dataset: dataset folder not found/] });
});

test("tampered dataset (an image changed after the build): exit 1 naming the file; no run folder", () => {
  const dir = derivedDataset("tampered", (d) => fs.appendFileSync(path.join(d, "images", "0003.png"), "x"), false);
  const f = writeConfig(path.join(cwd, "inputs"), "tampered.yaml", withDataset(TEXT_BODY, `{ kind: folder, path: ${dir} }`));
  refused("tampered dataset", ["train", f], { code: 1, message: [/tampered: dataset files do not match manifest\.json: images\/0003\.png changed/] });
  refused("data verify tampered", ["data", "verify", dir], { code: 1, message: [/1 file does not match manifest\.json: images\/0003\.png \(changed\)/] });
});

test("dataset with a missing image: exit 2 naming pairs.jsonl line, pair id and file", () => {
  const dir = derivedDataset("missing-image", (d) => fs.rmSync(path.join(d, "images", "0002.png")), false);
  const f = writeConfig(path.join(cwd, "inputs"), "missing-image.yaml", withDataset(TEXT_BODY, `{ kind: folder, path: ${dir} }`));
  refused("missing image", ["train", f], { code: 2, message: [/pairs\.jsonl:3: file images\/0002\.png of pair '0002' not found/] });
});

test("dataset with a duplicate pair id in pairs.jsonl: exit 2 naming the line and id", () => {
  const dir = derivedDataset(
    "duplicate-id",
    (d) => {
      const f = path.join(d, "pairs.jsonl");
      fs.writeFileSync(f, fs.readFileSync(f, "utf8").replace('"id":"0004"', '"id":"0001"'));
    },
    true,
  );
  const f = writeConfig(path.join(cwd, "inputs"), "duplicate-id.yaml", withDataset(TEXT_BODY, `{ kind: folder, path: ${dir} }`));
  refused("duplicate id", ["train", f], { code: 2, message: [/pairs\.jsonl:5: duplicate id '0001' \(first on line 2\)/] });
});

test("dataset with a terminal escape (control character) in a caption: exit 2 naming the line, pair and key", () => {
  const dir = derivedDataset(
    "control-caption",
    (d) => {
      const f = path.join(d, "pairs.jsonl");
      const lines = fs.readFileSync(f, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { caption: string });
      lines[2].caption = `\u001b[31m${lines[2].caption}`;
      fs.writeFileSync(f, lines.map((l) => JSON.stringify(l)).join("\n") + "\n");
    },
    true,
  );
  const f = writeConfig(path.join(cwd, "inputs"), "control-caption.yaml", withDataset(TEXT_BODY, `{ kind: folder, path: ${dir} }`));
  refused("control caption in dataset", ["train", f], { code: 2, message: [/pairs\.jsonl:3: pair '0002': caption: caption contains a control character \(U\+001B\) at position 1/] });
});

test("dataset whose PNG header claims 100000×100000 (manifest consistent): exit 2, refused before decoding", () => {
  const dir = derivedDataset("bomb", (d) => fs.writeFileSync(path.join(d, "images", "0001.png"), bombPng()), true);
  const f = writeConfig(path.join(cwd, "inputs"), "bomb-data.yaml", withDataset(TEXT_BODY, `{ kind: folder, path: ${dir} }`));
  refused("bomb in dataset", ["train", f], { code: 2, message: [/images\/0001\.png: image too large \(100000×100000 pixels/] });
});

// ---- importing a folder of images

async function importCase(label: string, kind: "art" | "sketch2render", make: (dir: string) => void | Promise<void>, message: RegExp[]): Promise<void> {
  const src = path.join(cwd, "import", label.replace(/\W+/g, "-"));
  if (kind === "art") artImportFolder(src);
  else sketchImportFolder(src);
  await make(src);
  refused(label, ["data", "import", "--kind", kind, "--from", src, "--out", path.join(cwd, "datasets", "imported"), "--size", "16"], { code: 2, message: [/failed with \d+ problems? \(nothing was written\)/, ...message] });
}

test("import: truncated PNG", async () => {
  await importCase("truncated png", "art", (d) => fs.writeFileSync(path.join(d, "b.png"), fs.readFileSync(path.join(d, "b.png")).subarray(0, 60)), [/b\.png: unreadable image \(/]);
});

test("import: zero-byte PNG", async () => {
  await importCase("zero png", "art", (d) => fs.writeFileSync(path.join(d, "b.png"), ""), [/b\.png: unreadable image \(empty file, 0 bytes\)/]);
});

test("import: truncated JPEG", async () => {
  const jpeg = await sharp({ create: { width: 24, height: 24, channels: 3, background: { r: 20, g: 200, b: 90 } } }).jpeg().toBuffer();
  await importCase(
    "truncated jpeg",
    "art",
    (d) => {
      fs.rmSync(path.join(d, "c.png"));
      fs.writeFileSync(path.join(d, "c.jpg"), truncatedJpeg(jpeg));
    },
    [/c\.jpg: unreadable image \(.*premature end of JPEG/],
  );
});

test("import: zero-byte JPEG", async () => {
  await importCase(
    "zero jpeg",
    "art",
    (d) => {
      fs.rmSync(path.join(d, "c.png"));
      fs.writeFileSync(path.join(d, "c.jpeg"), "");
    },
    [/c\.jpeg: unreadable image \(empty file, 0 bytes\)/],
  );
});

test("import: a text file with a .png extension", async () => {
  await importCase("not an image", "art", (d) => fs.writeFileSync(path.join(d, "a.png"), "this is a caption, not a picture\n"), [/a\.png: unreadable image \(.*unsupported image format/]);
});

test("import: decompression bomb (a hand-made PNG header claiming 100000×100000)", async () => {
  await importCase("bomb", "art", (d) => fs.writeFileSync(path.join(d, "b.png"), bombPng()), [/b\.png: unreadable image \(image too large/]);
});

test("import: sketch without render and render without sketch (mismatched pairs)", async () => {
  await importCase("mismatched", "sketch2render", (d) => fs.renameSync(path.join(d, "renders", "c.png"), path.join(d, "renders", "d.png")), [
    /sketches\/c\.png: sketch without a render/,
    /renders\/d\.png: render without a sketch/,
  ]);
});

test("import: duplicate pairs (same name as .png and .jpg; twice in captions.csv)", async () => {
  await importCase("duplicate stem", "sketch2render", (d) => fs.copyFileSync(path.join(d, "renders", "b.png"), path.join(d, "renders", "b.jpg")), [/renders\/b\.png: duplicate name 'b' \(also renders\/b\.jpg\)/]);
  await importCase(
    "duplicate csv",
    "art",
    (d) => {
      for (const s of ["a", "b", "c"]) fs.rmSync(path.join(d, `${s}.txt`));
      fs.writeFileSync(path.join(d, "captions.csv"), "file,caption\na.png,one\nb.png,two\na.png,again\nc.png,three\n");
    },
    [/captions\.csv:4: duplicate entry for 'a\.png' \(first at captions\.csv:2\)/],
  );
});

test("import: caption with a control character", async () => {
  await importCase("control caption", "art", (d) => fs.writeFileSync(path.join(d, "b.txt"), "a bell\u0007 rings"), [/b\.txt: caption contains a control character \(U\+0007\) at position 7/]);
});

test("import: empty caption", async () => {
  await importCase("empty caption", "art", (d) => fs.writeFileSync(path.join(d, "c.txt"), "  \n"), [/c\.txt: empty caption/]);
});

// ---- FID inputs

test("fid: feature files with different dimensions", () => {
  const a = file("a3.csv", "1,2,3\n4,5,6\n7,8,1\n");
  const b = file("b2.csv", "1,2\n4,5\n7,8\n");
  refused("fid dims", ["fid", a, b], { code: 2, message: [/a3\.csv has 3 features per sample but .*b2\.csv has 2/] });
});

test("fid: fewer than 2 samples", () => {
  const a = file("a3.csv", "1,2,3\n4,5,6\n7,8,1\n");
  const one = file("one.csv", "1,2,3\n");
  refused("fid one sample", ["fid", a, one], { code: 2, message: [/one\.csv: 1 sample; FID\/KID need at least 2 samples per set/] });
});

test("fid: NaN in a CSV and in a .npy feature file, named by row and column", () => {
  const a = file("a3.csv", "1,2,3\n4,5,6\n7,8,1\n");
  const nan = file("nan.csv", "1,2,3\n4,nan,6\n7,8,1\n");
  refused("fid NaN csv", ["fid", a, nan], { code: 2, message: [/nan\.csv: row 2, column 2: value is nan/] });
  const ok = file("ok.npy", npyFloat32([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6], [0.7, 0.1, 0.9]]));
  const bad = file("nan.npy", npyFloat32([[0.1, 0.2, 0.3], [0.4, 0.5, Number.NaN], [0.7, 0.1, 0.9]]));
  refused("fid NaN npy", ["fid", ok, bad], { code: 2, message: [/nan\.npy: row 2, column 3: value is NaN/] });
});

// ---- stats tables

test("stats: a missing fold × variant cell", () => {
  const f = file("missing.csv", "fold,variant,value\n0,a,1\n0,b,2\n1,a,1.5\n2,a,1.1\n2,b,1.9\n");
  refused("stats missing cell", ["stats", f], { code: 2, message: [/missing\.csv: missing cell: no value for fold 1, variant b/] });
});

test("stats: only one variant", () => {
  const f = file("one-variant.csv", "fold,variant,value\n0,a,1\n1,a,2\n2,a,1.5\n");
  refused("stats one variant", ["stats", f], { code: 2, message: [/one-variant\.csv: needs at least 2 variants to compare, found 1 \(a\)/] });
});

test("stats: non-numeric and empty values, named by line", () => {
  const f = file("text.csv", "fold,variant,value\n0,a,1\n0,b,high\n1,a,1.5\n1,b,2\n");
  refused("stats non-numeric", ["stats", f], { code: 2, message: [/text\.csv line 3: value "high" \(fold 0, variant b\) is not a number/] });
  const g = file("blank.csv", "fold,variant,value\n0,a,1\n0,b,2\n1,a,\n1,b,2\n");
  refused("stats empty value", ["stats", g], { code: 2, message: [/blank\.csv line 4: value "" \(fold 1, variant a\) is not a number/] });
});

test("--debug does show the stack trace (so the no-stack-trace checks above can fail)", () => {
  const f = writeConfig(path.join(cwd, "inputs"), "debug.yaml", "train: { stesp: 3 }\n");
  const r = runCli(["--debug", "config", "show", f], { cwd });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /train\.stesp: unknown key/);
  assert.match(r.stderr, /\n\s+at /);
});
