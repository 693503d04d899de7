/**
 * The tamper check of `diffx verify`: the run folder must hold exactly the files its
 * manifest.json lists, each with the recorded sha256 (a nested run — an eval's fold training —
 * is listed by its own manifest.json, whose files are checked against it); its config.yaml must
 * hash to the recorded config hash; and the output hashes of checkpoints must agree with the
 * per-step hashes in `manifest.checkpoints` (kept for every checkpoint ever written).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { loadConfig } from "../config/load.js";
import { sha256File } from "../engine/hash.js";
import { DiffxError } from "../errors.js";
import { RUN_FILES } from "./folder.js";
import { listOutputs, readManifest, type RunManifest } from "./manifest.js";
import { MismatchList } from "./verify-compare.js";
import { shortHash } from "./verify-types.js";

export interface FilesCheck {
  /** Files hashed. */
  compared: number;
  /** Files listed by the manifest (and by the manifests of nested runs). */
  listed: number;
  notes: string[];
}

const CHECKPOINT_FILE = /^checkpoints\/step-(\d+)\/([^/]+)$/;

/**
 * Check the files `m.outputs` lists under `dir` (shown as `prefix` + path). A listed
 * `<sub>/manifest.json` that is itself a run manifest (an eval's fold trainings) stands for the
 * files of that run: those not listed here are checked against it, recursively.
 */
function checkListed(dir: string, prefix: string, m: RunManifest, list: MismatchList, seen: Set<string>): number {
  let compared = 0;
  for (const rel of Object.keys(m.outputs).sort()) {
    const shown = prefix + rel;
    if (seen.has(shown)) continue; // listed by the enclosing run too, and checked there
    seen.add(shown);
    const file = path.join(dir, rel);
    if (!fs.existsSync(file)) {
      list.add(shown, "", `sha256 ${shortHash(m.outputs[rel])}`, "missing");
      continue;
    }
    compared++;
    const h = sha256File(file);
    if (h !== m.outputs[rel]) list.add(shown, "", `sha256 ${shortHash(m.outputs[rel])}`, `sha256 ${shortHash(h)}`);
  }
  for (const rel of Object.keys(m.outputs).sort()) {
    if (path.posix.basename(rel) !== RUN_FILES.manifest || rel === RUN_FILES.manifest) continue;
    const sub = path.posix.dirname(rel);
    let nested: RunManifest;
    try {
      nested = readManifest(path.join(dir, sub));
    } catch {
      continue; // missing (reported above) or not a run manifest
    }
    compared += checkListed(path.join(dir, sub), `${prefix}${sub}/`, nested, list, seen);
  }
  return compared;
}

export function checkRunFiles(runDir: string, manifest: RunManifest, list: MismatchList): FilesCheck {
  const notes: string[] = [];
  const recorded = manifest.outputs;
  const seen = new Set<string>();
  const compared = checkListed(runDir, "", manifest, list, seen);
  for (const rel of listOutputs(runDir)) {
    if (seen.has(rel) || path.posix.basename(rel) === RUN_FILES.lock) continue;
    list.add(rel, "", "(not in manifest.json)", `unexpected file, sha256 ${shortHash(sha256File(path.join(runDir, rel)))}`);
  }

  // the per-step checkpoint hashes must agree with the output list (a manifest edited in one place only)
  const steps = manifest.checkpoints ?? {};
  for (const rel of Object.keys(recorded).sort()) {
    const m = CHECKPOINT_FILE.exec(rel);
    if (!m) continue;
    const want = steps[m[1]]?.[m[2]];
    if (want === undefined) list.add(RUN_FILES.manifest, `checkpoints.${m[1]}.${m[2]}`, `sha256 ${shortHash(recorded[rel])} (as outputs lists ${rel})`, "(absent)");
    else if (want !== recorded[rel]) list.add(RUN_FILES.manifest, `checkpoints.${m[1]}.${m[2]}`, `sha256 ${shortHash(recorded[rel])} (as outputs lists ${rel})`, `sha256 ${shortHash(want)}`);
  }

  // config.yaml must be the config the run was started with
  const configFile = path.join(runDir, RUN_FILES.config);
  if (fs.existsSync(configFile)) {
    try {
      const { hash } = loadConfig(configFile);
      if (hash !== manifest.config_hash) list.add(RUN_FILES.config, "config hash", shortHash(manifest.config_hash), shortHash(hash));
    } catch (err) {
      if (!(err instanceof DiffxError)) throw err;
      list.add(RUN_FILES.config, "loading it", "a valid config", err.message);
    }
  }
  if (Object.keys(recorded).length === 0) notes.push("the manifest lists no output files");
  const nested = seen.size - Object.keys(recorded).length;
  if (nested > 0) notes.push(`${nested} of them belong to nested runs (an eval's fold trainings) and were checked against their own manifest.json`);
  return { compared, listed: seen.size, notes };
}
