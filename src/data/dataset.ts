/**
 * The dataset folder format (format 1):
 *
 *   <dir>/pairs.jsonl     one JSON record per pair (PairRecord), in pair order
 *   <dir>/images/*.png    the images (RGB)
 *   <dir>/sketches/*.png  the conditioning sketches (1 channel; sketch2render only)
 *   <dir>/manifest.json   format, kind, generator + version, seed, n, image_size,
 *                         sha256 of every file above, and the dataset hash
 *
 * The dataset hash is the sha256 of the text made of one line `<sha256>  <path>\n` per file,
 * sorted by path (the `sha256sum` listing of the folder). It depends only on file contents and
 * names, so the same build gives the same hash on any machine. Files not in the manifest (such
 * as contact.png written by `diffx data show`) are not part of the dataset.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import { UsageError } from "../errors.js";
import { sha256, sha256File } from "../engine/hash.js";
import { captionProblem } from "./captions-file.js";

export const DATASET_FORMAT = 1;
export const DATASET_KINDS = ["art", "sketch2render"] as const;
export type DatasetKind = (typeof DATASET_KINDS)[number];
export type AttributeValue = string | number;

/** One pair, as stored in pairs.jsonl. Paths are relative to the dataset folder. */
export interface PairRecord {
  id: string;
  /** The target image (RGB PNG), e.g. "images/0000.png". */
  image: string;
  /** The conditioning sketch (1-channel PNG), sketch2render only. */
  sketch?: string;
  /** English caption. */
  caption?: string;
  /** Chinese caption. */
  caption_zh?: string;
  /** Ground truth written by the generator (empty for imported pairs). */
  attributes: Record<string, AttributeValue>;
  /** Pairs sharing a group always land in the same fold. */
  group: string;
  /** Original file name (imported pairs). */
  source?: string;
}

export interface GeneratorInfo {
  name: string;
  version: string;
}

export interface DatasetManifest {
  format: number;
  kind: DatasetKind;
  generator: GeneratorInfo;
  /** Generator seed; null for imported datasets. */
  seed: number | null;
  n: number;
  image_size: number;
  /** sha256 of every dataset file, keyed by path relative to the folder (sorted). */
  files: Record<string, string>;
  /** sha256 over the sorted file hashes (see the module comment). */
  hash: string;
}

export interface Dataset {
  /** Absolute folder path. */
  dir: string;
  kind: DatasetKind;
  manifest: DatasetManifest;
  pairs: PairRecord[];
  /** The dataset hash (manifest.hash). */
  hash: string;
  /** Stored image size in pixels (square). */
  imageSize: number;
}

/** A generated or imported pair before it is written: its record and the bytes of its files. */
export interface GeneratedPair {
  record: PairRecord;
  files: { path: string; bytes: Uint8Array }[];
}

export const MANIFEST_FILE = "manifest.json";
export const PAIRS_FILE = "pairs.jsonl";

const relPath = z
  .string()
  .min(1)
  .refine((p) => !path.isAbsolute(p) && !p.includes("\\") && !p.split("/").some((s) => s === ".." || s === "" || s === "."), "must be a relative path inside the dataset folder");

const pairSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9._-]+$/, "letters, digits, '.', '_' and '-' only"),
  image: relPath,
  sketch: relPath.optional(),
  caption: z.string().optional(),
  caption_zh: z.string().optional(),
  attributes: z.record(z.string(), z.union([z.string(), z.number()])),
  group: z.string().min(1),
  source: z.string().optional(),
});

const manifestSchema = z.strictObject({
  format: z.number(),
  kind: z.enum(DATASET_KINDS),
  generator: z.strictObject({ name: z.string(), version: z.string() }),
  seed: z.number().int().nullable(),
  n: z.number().int().nonnegative(),
  image_size: z.number().int().positive(),
  files: z.record(relPath, z.string().regex(/^[0-9a-f]{64}$/, "a sha256 hex digest")),
  hash: z.string().regex(/^[0-9a-f]{64}$/, "a sha256 hex digest"),
});

function issueText(issue: z.core.$ZodIssue): string {
  const where = issue.path.map(String).join(".");
  return `${where ? where + ": " : ""}${issue.message.replace(/^Invalid input: /, "")}`;
}

/** The dataset hash of a file listing (path → sha256). */
export function datasetHash(files: Record<string, string>): string {
  const lines = Object.keys(files)
    .sort()
    .map((p) => `${files[p]}  ${p}\n`)
    .join("");
  return sha256(lines);
}

/** pairs.jsonl text: one record per line with a fixed key order. */
export function serializePairs(pairs: readonly PairRecord[]): string {
  return pairs
    .map((p) => {
      const ordered: Record<string, unknown> = { id: p.id, image: p.image };
      if (p.sketch !== undefined) ordered.sketch = p.sketch;
      if (p.caption !== undefined) ordered.caption = p.caption;
      if (p.caption_zh !== undefined) ordered.caption_zh = p.caption_zh;
      ordered.attributes = p.attributes;
      ordered.group = p.group;
      if (p.source !== undefined) ordered.source = p.source;
      return JSON.stringify(ordered) + "\n";
    })
    .join("");
}

/** Read and validate manifest.json (UsageError naming the file and key). */
export function readManifest(dir: string): DatasetManifest {
  const file = path.join(dir, MANIFEST_FILE);
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    throw new UsageError(`${dir}: dataset folder not found`);
  }
  if (!st.isDirectory()) throw new UsageError(`${dir}: not a folder`);
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    throw new UsageError(`${file}: not found (is ${dir} a dataset folder? create one with 'diffx data build' or 'diffx data import')`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${file}: invalid JSON (${(err as Error).message})`);
  }
  if (typeof raw === "object" && raw !== null && "format" in raw && typeof (raw as { format: unknown }).format === "string" && String((raw as { format: unknown }).format).startsWith("diffx-run/")) {
    throw new UsageError(`${dir}: a diffx run folder, not a dataset folder (its ${MANIFEST_FILE} is a run manifest)`);
  }
  if (typeof raw === "object" && raw !== null && "format" in raw && (raw as { format: unknown }).format !== DATASET_FORMAT) {
    throw new UsageError(`${file}: dataset format ${JSON.stringify((raw as { format: unknown }).format)} is not supported (this diffx reads format ${DATASET_FORMAT})`);
  }
  const r = manifestSchema.safeParse(raw);
  if (!r.success) throw new UsageError(`${file}: ${issueText(r.error.issues[0])}`);
  return r.data;
}

/**
 * Open a dataset folder: the manifest, every record of pairs.jsonl (validated), and a check
 * that every referenced file exists. Does not hash the files: that is `verifyDataset`.
 */
export function loadDataset(dir: string): Dataset {
  const abs = path.resolve(dir);
  const manifest = readManifest(abs);
  const file = path.join(abs, PAIRS_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    throw new UsageError(`${file}: not found`);
  }
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  const pairs: PairRecord[] = [];
  const seen = new Map<string, number>();
  lines.forEach((line, i) => {
    const where = `${file}:${i + 1}`;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (err) {
      throw new UsageError(`${where}: invalid JSON (${(err as Error).message})`);
    }
    const r = pairSchema.safeParse(raw);
    if (!r.success) throw new UsageError(`${where}: ${issueText(r.error.issues[0])}`);
    const p: PairRecord = r.data;
    const first = seen.get(p.id);
    if (first !== undefined) throw new UsageError(`${where}: duplicate id '${p.id}' (first on line ${first})`);
    seen.set(p.id, i + 1);
    if (manifest.kind === "art" && (p.caption === undefined || p.caption.trim() === "")) throw new UsageError(`${where}: pair '${p.id}' has no caption (an art dataset needs one per image)`);
    for (const key of ["caption", "caption_zh"] as const) {
      const text = p[key];
      const problem = text === undefined ? null : captionProblem(text);
      if (problem) throw new UsageError(`${where}: pair '${p.id}': ${key}: ${problem}`);
    }
    if (manifest.kind === "sketch2render" && p.sketch === undefined) throw new UsageError(`${where}: pair '${p.id}' has no sketch (a sketch2render dataset needs one per image)`);
    for (const rel of p.sketch === undefined ? [p.image] : [p.image, p.sketch]) {
      if (!Object.hasOwn(manifest.files, rel)) throw new UsageError(`${where}: file ${rel} of pair '${p.id}' is not listed in ${MANIFEST_FILE}`);
      if (!fs.existsSync(path.join(abs, rel))) throw new UsageError(`${where}: file ${rel} of pair '${p.id}' not found in ${abs}`);
    }
    pairs.push(p);
  });
  if (pairs.length !== manifest.n) throw new UsageError(`${path.join(abs, MANIFEST_FILE)}: n is ${manifest.n} but ${PAIRS_FILE} has ${pairs.length} records`);
  return { dir: abs, kind: manifest.kind, manifest, pairs, hash: manifest.hash, imageSize: manifest.image_size };
}

export interface VerifyResult {
  ok: boolean;
  /** The hash the manifest records. */
  hash: string;
  /** Files whose content differs from the manifest (plus manifest.json if its hash field is wrong). */
  changed: string[];
  /** Files listed in the manifest that are gone. */
  missing: string[];
  /** Number of files checked. */
  checked: number;
}

/** Recompute the sha256 of every file in the manifest; list every changed or missing file. */
export function verifyDataset(dir: string): VerifyResult {
  const abs = path.resolve(dir);
  const manifest = readManifest(abs);
  const changed: string[] = [];
  const missing: string[] = [];
  for (const rel of Object.keys(manifest.files).sort()) {
    const file = path.join(abs, rel);
    if (!fs.existsSync(file)) {
      missing.push(rel);
      continue;
    }
    if (sha256File(file) !== manifest.files[rel]) changed.push(rel);
  }
  if (datasetHash(manifest.files) !== manifest.hash) changed.push(MANIFEST_FILE);
  return { ok: changed.length === 0 && missing.length === 0, hash: manifest.hash, changed, missing, checked: Object.keys(manifest.files).length };
}

/** Build the manifest for a set of files (path → bytes). */
export function makeManifest(
  meta: { kind: DatasetKind; generator: GeneratorInfo; seed: number | null; n: number; image_size: number },
  files: ReadonlyMap<string, Uint8Array>,
): DatasetManifest {
  const hashes: Record<string, string> = {};
  for (const p of [...files.keys()].sort()) hashes[p] = sha256(files.get(p) as Uint8Array);
  return {
    format: DATASET_FORMAT,
    kind: meta.kind,
    generator: { name: meta.generator.name, version: meta.generator.version },
    seed: meta.seed,
    n: meta.n,
    image_size: meta.image_size,
    files: hashes,
    hash: datasetHash(hashes),
  };
}
