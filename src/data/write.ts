/**
 * Writing a dataset folder so that nothing half-written is ever visible: every file goes into
 * a hidden staging folder next to the target (each file itself written atomically), the
 * manifest last, and the staging folder is renamed into place. An existing folder holding the
 * identical dataset is reused untouched; a different dataset is only replaced with `force`;
 * a folder that is not a dataset is never replaced.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { DiffxError, RuntimeFailure, UsageError } from "../errors.js";
import { WriteFailure, writeFileAtomic, writeJsonAtomic } from "../engine/atomic.js";
import { makeManifest, MANIFEST_FILE, PAIRS_FILE, readManifest, serializePairs, verifyDataset, type DatasetKind, type GeneratedPair, type GeneratorInfo } from "./dataset.js";
import { makeDirs } from "../engine/make-dirs.js";

export interface DatasetContent {
  kind: DatasetKind;
  generator: GeneratorInfo;
  seed: number | null;
  image_size: number;
  pairs: GeneratedPair[];
}

export interface WriteResult {
  /** Absolute folder path. */
  dir: string;
  hash: string;
  n: number;
  /** True when an identical dataset was already there and nothing was written. */
  reused: boolean;
  /** True when a different dataset was replaced (force). */
  replaced: boolean;
}

let stageCounter = 0;

/** What is at `dir`: nothing, an empty folder, a diffx dataset (manifest and contents), or anything else (with why). */
type Existing = { kind: "absent" } | { kind: "empty" } | { kind: "dataset" } | { kind: "other"; why: string };

/** Top-level names a dataset folder may hold besides the files its manifest lists (`diffx data show` writes contact.png). */
const DATASET_EXTRAS = new Set([MANIFEST_FILE, PAIRS_FILE, "contact.png"]);
/** A temp file an interrupted atomic write left behind (engine/atomic.ts names them `.NAME.tmp-PID-N`). */
const LEFTOVER_TEMP = /^\..+\.tmp-\d+-\d+$/;

/**
 * Classify what is at `dir`. Only a folder whose manifest.json reads as a diffx dataset
 * manifest (format, kind, generator, file hashes) and that holds nothing but that dataset's
 * files (and contact.png) counts as a dataset: a run folder, an eval, a project with its own
 * manifest.json, or a dataset someone added files to is "other", and is never replaced.
 */
function describeExisting(dir: string): Existing {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    return { kind: "absent" };
  }
  if (!st.isDirectory()) return { kind: "other", why: "it is not a folder" };
  const entries = fs.readdirSync(dir);
  if (entries.length === 0) return { kind: "empty" };
  if (!entries.includes(MANIFEST_FILE)) return { kind: "other", why: `it has no ${MANIFEST_FILE}` };
  let manifest: { files: Record<string, string> };
  try {
    manifest = readManifest(dir);
  } catch (err) {
    const msg = err instanceof DiffxError ? err.message : String(err);
    if (msg.startsWith(`${dir}: a diffx run folder`)) return { kind: "other", why: "it is a diffx run folder" };
    return { kind: "other", why: `its ${MANIFEST_FILE} is not a diffx dataset manifest (${msg.replace(`${path.join(dir, MANIFEST_FILE)}: `, "")})` };
  }
  const allowed = new Set(DATASET_EXTRAS);
  for (const rel of Object.keys(manifest.files)) allowed.add(rel.split("/")[0]);
  const foreign = entries.filter((e) => !allowed.has(e) && !LEFTOVER_TEMP.test(e)).sort();
  if (foreign.length > 0) {
    const shownNames = foreign.slice(0, 3).join(", ") + (foreign.length > 3 ? `, … (${foreign.length} in all)` : "");
    return { kind: "other", why: `it holds files that are not part of the dataset: ${shownNames}` };
  }
  return { kind: "dataset" };
}

/** Write `content` as a dataset folder at `outDir` (see the module comment for the rules). */
export function writeDataset(outDir: string, content: DatasetContent, opts: { force?: boolean } = {}): WriteResult {
  const dir = path.resolve(outDir);
  const files = new Map<string, Uint8Array>();
  for (const pair of content.pairs)
    for (const f of pair.files) {
      if (files.has(f.path)) throw new Error(`writeDataset: two pairs write ${f.path}`);
      files.set(f.path, f.bytes);
    }
  files.set(PAIRS_FILE, Buffer.from(serializePairs(content.pairs.map((p) => p.record)), "utf8"));
  const manifest = makeManifest({ kind: content.kind, generator: content.generator, seed: content.seed, n: content.pairs.length, image_size: content.image_size }, files);
  const result = { dir, hash: manifest.hash, n: content.pairs.length };

  const found = describeExisting(dir);
  if (found.kind === "other") throw new UsageError(`${dir} exists and is not a diffx dataset folder (${found.why}); refusing to replace it, with or without --force (choose another --out, or move it away yourself)`);
  const existing = found.kind;
  if (existing === "dataset") {
    const old = readManifestOrNull(dir);
    if (old && old.hash === manifest.hash) {
      const check = verifyDataset(dir);
      if (check.ok) return { ...result, reused: true, replaced: false };
      if (!opts.force) {
        const bad = [...check.changed.map((f) => `${f} (changed)`), ...check.missing.map((f) => `${f} (missing)`)];
        throw new UsageError(`${dir} holds this dataset but its files were modified: ${bad.join(", ")}; use --force to rebuild it`);
      }
    } else if (!opts.force) {
      const what = old ? `a different dataset (hash ${old.hash.slice(0, 12)}…, this build ${manifest.hash.slice(0, 12)}…)` : "a different dataset";
      throw new UsageError(`${dir} already holds ${what}; use --force to replace it`);
    }
  }

  const parent = path.dirname(dir);
  const base = path.basename(dir);
  const stage = path.join(parent, `.${base}.tmp-${process.pid}-${stageCounter++}`);
  try {
    makeDirs(stage);
    for (const [rel, bytes] of files) writeFileAtomic(path.join(stage, rel), bytes);
    writeJsonAtomic(path.join(stage, MANIFEST_FILE), manifest);
  } catch (err) {
    try {
      fs.rmSync(stage, { recursive: true, force: true });
    } catch {
      // nothing was staged (e.g. a file is in the way of the parent folder)
    }
    const code = err instanceof WriteFailure ? err.code : (err as NodeJS.ErrnoException).code;
    if (code === "ENOTDIR" || code === "EEXIST") throw new UsageError(`${dir}: a file is in the way of the dataset folder (${path.dirname(dir)} is not a folder); choose another --out`);
    if (err instanceof DiffxError) throw err;
    throw new RuntimeFailure(code === "ENOSPC" ? `disk full while writing the dataset next to ${dir} (ENOSPC); nothing was replaced` : `cannot write the dataset ${dir}: ${(err as Error).message}`);
  }
  try {
    commit(stage, dir, existing !== "absent");
  } catch (err) {
    // another process may have built the same dataset meanwhile (e.g. parallel folds)
    if (existing === "absent" && describeExisting(dir).kind === "dataset" && readManifestOrNull(dir)?.hash === manifest.hash && verifyDataset(dir).ok) {
      return { ...result, reused: true, replaced: false };
    }
    throw err;
  }
  return { ...result, reused: false, replaced: existing === "dataset" };
}

function readManifestOrNull(dir: string): { hash: string } | null {
  try {
    return readManifest(dir);
  } catch {
    return null;
  }
}

/** Move the staged folder into place, keeping the old one until the new one is there. */
function commit(stage: string, dir: string, exists: boolean): void {
  const old = path.join(path.dirname(dir), `.${path.basename(dir)}.old-${process.pid}-${stageCounter++}`);
  try {
    if (exists) fs.renameSync(dir, old);
    try {
      fs.renameSync(stage, dir);
    } catch (err) {
      if (exists) fs.renameSync(old, dir);
      throw err;
    }
  } catch (err) {
    fs.rmSync(stage, { recursive: true, force: true });
    throw new RuntimeFailure(`cannot move the new dataset into ${dir}: ${(err as Error).message}`);
  }
  if (exists) fs.rmSync(old, { recursive: true, force: true });
}
