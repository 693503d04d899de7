/**
 * Shared pieces of the bad-input and fault suite: tiny configs, hand-made broken files, a
 * snapshot of every file under a folder (path, sha256, mtime) to prove nothing was created or
 * changed, and the assertion every case makes about a refused command.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { PNG } from "pngjs";
import { spawn } from "node:child_process";
import { BIN, ROOT, type CliResult } from "../helpers/cli.js";

export const TINY = path.join(ROOT, "configs", "ci-tiny.yaml");

/** A config file extending ci-tiny.yaml with `body` (YAML) appended. */
export function writeConfig(dir: string, name: string, body: string): string {
  const file = path.join(dir, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(file, `extends: ${TINY}\n${body}`);
  return file;
}

/** Small art / sketch2render datasets and training settings that finish in seconds. */
export const TEXT_BODY = "name: bad-text\ndataset: { kind: art, name: bad-art, n: 6, image_size: 16, seed: 3 }\ntrain: { steps: 2, batch_size: 2, checkpoint_every: 1, eval_every: 2, sample_grid: 0 }\n";
export const SKETCH_BODY =
  "name: bad-sketch\ndataset: { kind: sketch2render, name: bad-s2r, n: 6, image_size: 16, seed: 3 }\nmodel: { conditioning: sketch }\ntrain: { steps: 2, batch_size: 2, checkpoint_every: 1, eval_every: 2, sample_grid: 0 }\n";

/** `body` with its `dataset:` line replaced (a YAML mapping may not repeat a key). */
export function withDataset(body: string, dataset: string): string {
  return body.replace(/^dataset: .*$/m, `dataset: ${dataset}`);
}

export interface FileState {
  sha256: string;
  mtimeMs: number;
  size: number;
}

/** Every file under each folder (recursively): path → sha256, mtime, size; folders by path only. */
export function snapshot(...roots: string[]): Map<string, FileState | "dir"> {
  const out = new Map<string, FileState | "dir">();
  const walk = (p: string): void => {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch {
      return;
    }
    if (st.isDirectory()) {
      out.set(p, "dir");
      for (const name of fs.readdirSync(p).sort()) walk(path.join(p, name));
    } else if (st.isFile()) {
      out.set(p, { sha256: createHash("sha256").update(fs.readFileSync(p)).digest("hex"), mtimeMs: st.mtimeMs, size: st.size });
    }
  };
  for (const r of roots) walk(r);
  return out;
}

/** The differences between two snapshots, one line each ("created x", "changed y", "removed z"). */
export function snapshotDiff(before: Map<string, FileState | "dir">, after: Map<string, FileState | "dir">): string[] {
  const diff: string[] = [];
  for (const [p, a] of after) {
    const b = before.get(p);
    if (b === undefined) diff.push(`created ${p}`);
    else if (a !== "dir" && b !== "dir" && (a.sha256 !== b.sha256 || a.mtimeMs !== b.mtimeMs || a.size !== b.size)) diff.push(`changed ${p}`);
  }
  for (const p of before.keys()) if (!after.has(p)) diff.push(`removed ${p}`);
  return diff;
}

export interface Expect {
  code: 1 | 2;
  /** Every pattern must match stderr (the problem, and where: file, key path, line, pair id). */
  message: RegExp[];
}

/** The command was refused the way a user should see it: exit code, message, no stack trace, one `diffx:` line. */
export function assertRefused(r: CliResult, e: Expect, label: string): void {
  const all = `${label}\nexit ${r.code}\nstderr:\n${r.stderr}\nstdout:\n${r.stdout}`;
  assert.equal(r.code, e.code, all);
  for (const m of e.message) assert.match(r.stderr, m, all);
  assert.doesNotMatch(r.stderr, /\n\s+at /, `stack trace without --debug: ${all}`);
  assert.doesNotMatch(r.stderr, /internal error/, all);
  assert.equal(r.stderr.split("\n").filter((l) => /^(diffx|error): /.test(l)).length, 1, `exactly one error message: ${all}`);
}

/** Run `fn` (a refused command) and check that nothing under `roots` was created or changed. */
export function assertUntouched<T>(roots: string[], fn: () => T, label: string): T {
  const before = snapshot(...roots);
  const result = fn();
  const diff = snapshotDiff(before, snapshot(...roots));
  assert.deepEqual(diff, [], `${label}: files were created or changed:\n${diff.join("\n")}`);
  return result;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(body) >>> 0);
  return Buffer.concat([len, body, crc]);
}

/**
 * A decompression bomb made by hand: a valid PNG signature and IHDR that claim `width`×`height`
 * RGB pixels, followed by a few hundred bytes of compressed rows (a decoder that trusts the
 * header allocates width·height·3 bytes before it finds out).
 */
export function bombPng(width = 100_000, height = 100_000): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type RGB
  const rows = zlib.deflateSync(Buffer.alloc(4 * (1 + width * 3)));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk("IHDR", ihdr), pngChunk("IDAT", rows), pngChunk("IEND", Buffer.alloc(0))]);
}

/** A small valid RGB PNG (a colour ramp). */
export function goodPng(size = 20, tint = 0): Buffer {
  const png = new PNG({ width: size, height: size });
  for (let i = 0; i < size * size; i++) {
    png.data[i * 4] = (i * 7 + tint) & 255;
    png.data[i * 4 + 1] = (i * 3) & 255;
    png.data[i * 4 + 2] = tint & 255;
    png.data[i * 4 + 3] = 255;
  }
  return PNG.sync.write(png);
}

/** A minimal baseline JPEG cut in half (SOI…, no EOI): made from a real JPEG by truncation. */
export function truncatedJpeg(jpeg: Buffer): Buffer {
  return jpeg.subarray(0, Math.floor(jpeg.length / 2));
}

/** An art import folder: a.png, b.png, c.png with one caption .txt each. */
export function artImportFolder(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  ["a", "b", "c"].forEach((stem, k) => {
    fs.writeFileSync(path.join(dir, `${stem}.png`), goodPng(20, 40 * k));
    fs.writeFileSync(path.join(dir, `${stem}.txt`), `a picture number ${k}`);
  });
  return dir;
}

/** A sketch2render import folder: sketches/{a,b,c}.png and renders/{a,b,c}.png. */
export function sketchImportFolder(dir: string): string {
  for (const sub of ["sketches", "renders"]) {
    fs.mkdirSync(path.join(dir, sub), { recursive: true });
    ["a", "b", "c"].forEach((stem, k) => fs.writeFileSync(path.join(dir, sub, `${stem}.png`), goodPng(20, sub === "sketches" ? 250 : 60 * k)));
  }
  return dir;
}

/** A float32 2-D .npy file (C order) written by hand from the numpy format spec. */
export function npyFloat32(rows: number[][]): Buffer {
  const n = rows.length, d = rows[0]?.length ?? 0;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${n}, ${d}), }`;
  const total = 10 + header.length + 1;
  header += " ".repeat((64 - (total % 64)) % 64) + "\n";
  const pre = Buffer.alloc(10);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(pre);
  pre.writeUInt16LE(header.length, 8);
  const data = Buffer.alloc(n * d * 4);
  rows.flat().forEach((v, i) => data.writeFloatLE(v, i * 4));
  return Buffer.concat([pre, Buffer.from(header, "latin1"), data]);
}

/** `runCli` without blocking, so independent set-up commands can run side by side. */
export function runCliAsync(args: string[], cwd: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "", stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Re-hash a dataset folder's manifest after a hand edit (the file sha256s and the dataset hash), so only the content is odd. */
export function rehashDatasetManifest(dir: string): void {
  const sha = (b: Buffer | string): string => createHash("sha256").update(b).digest("hex");
  const mf = path.join(dir, "manifest.json");
  const m = JSON.parse(fs.readFileSync(mf, "utf8")) as { files: Record<string, string>; hash: string };
  for (const rel of Object.keys(m.files)) m.files[rel] = sha(fs.readFileSync(path.join(dir, rel)));
  m.hash = sha(Object.keys(m.files).sort().map((p) => `${m.files[p]}  ${p}\n`).join(""));
  fs.writeFileSync(mf, JSON.stringify(m, null, 2) + "\n");
}
