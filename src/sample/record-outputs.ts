/**
 * Recording what sample/export wrote into a run folder in the run's manifest.json (the sha256
 * of every output): only the files under the folder just written are (re)hashed, so entries for
 * the run's other files stay as training recorded them. Done under the run lock; when another
 * diffx process holds the lock (e.g. training is still running), the manifest is left alone and
 * the caller is told why (that process rewrites the whole output list when it finishes).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { sha256File } from "../engine/hash.js";
import { DiffxError } from "../errors.js";
import { lockRun } from "../runs/lock.js";
import { listOutputs, manifestPath, readManifest, writeManifest } from "../runs/manifest.js";

export type RecordResult = { recorded: true; files: number } | { recorded: false; reason: string };

/** The path of `target` relative to `runDir` when it lies inside it, else null. */
export function insideRun(runDir: string, target: string): string | null {
  const rel = path.relative(runDir, path.resolve(target));
  if (rel === "" || rel.startsWith("..") || path.isAbsolute(rel)) return null;
  return rel.split(path.sep).join("/");
}

/** Hash the files `written` (files, or folders: every file under them) into the run manifest. */
export function recordRunOutputs(runDir: string, written: readonly string[]): RecordResult {
  const rels: string[] = [];
  for (const w of written) {
    const rel = insideRun(runDir, w);
    if (rel === null) return { recorded: false, reason: `${w} is outside the run folder` };
    rels.push(rel);
  }
  if (!fs.existsSync(manifestPath(runDir))) return { recorded: false, reason: `${runDir} has no manifest.json` };
  let release: () => void;
  try {
    release = lockRun(runDir);
  } catch (err) {
    if (err instanceof DiffxError) return { recorded: false, reason: err.message };
    throw err;
  }
  try {
    const m = readManifest(runDir);
    const files = rels.flatMap((rel) => (fs.statSync(path.join(runDir, rel)).isDirectory() ? listOutputs(runDir, rel) : [rel]));
    for (const f of files) m.outputs[f] = sha256File(path.join(runDir, f));
    // keep the listing sorted, as hashOutputs writes it
    m.outputs = Object.fromEntries(Object.entries(m.outputs).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    writeManifest(runDir, m);
    return { recorded: true, files: files.length };
  } finally {
    release();
  }
}
