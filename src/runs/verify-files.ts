/**
 * The tamper check of `diffx verify`: the run folder must hold exactly the files its
 * manifest.json lists, each with the recorded sha256; its config.yaml must hash to the recorded
 * config hash; and every checkpoint on disk must match the per-step hashes in
 * `manifest.checkpoints` (kept for every checkpoint ever written, pruned ones included).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { loadConfig } from "../config/load.js";
import { sha256File } from "../engine/hash.js";
import { DiffxError } from "../errors.js";
import { RUN_FILES } from "./folder.js";
import { listOutputs, type RunManifest } from "./manifest.js";
import { MismatchList } from "./verify-compare.js";
import { shortHash } from "./verify-types.js";

export interface FilesCheck {
  /** Files hashed. */
  compared: number;
  notes: string[];
}

const CHECKPOINT_FILE = /^checkpoints\/step-(\d+)\/([^/]+)$/;

export function checkRunFiles(runDir: string, manifest: RunManifest, list: MismatchList): FilesCheck {
  const notes: string[] = [];
  const recorded = manifest.outputs;
  const present = new Set(listOutputs(runDir));
  let compared = 0;
  for (const rel of Object.keys(recorded).sort()) {
    if (!present.has(rel)) {
      list.add(rel, "", `sha256 ${shortHash(recorded[rel])}`, "missing");
      continue;
    }
    compared++;
    const h = sha256File(path.join(runDir, rel));
    if (h !== recorded[rel]) list.add(rel, "", `sha256 ${shortHash(recorded[rel])}`, `sha256 ${shortHash(h)}`);
  }
  for (const rel of [...present].sort()) {
    if (!(rel in recorded)) list.add(rel, "", "(not in manifest.json)", `unexpected file, sha256 ${shortHash(sha256File(path.join(runDir, rel)))}`);
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
  return { compared, notes };
}
