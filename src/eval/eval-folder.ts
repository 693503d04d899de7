/**
 * The eval run folder `runs/<name>-<time>/`: config.yaml (the resolved config, --set and
 * --folds applied), manifest.json (kind "eval") and eval/ with everything the eval writes.
 *
 * Which folder an eval uses:
 *   --resume DIR       that eval run, with its recorded config;
 *   --run-dir DIR      that folder: created, or continued if it holds an eval of the same config;
 *   --fresh            always a new folder;
 *   otherwise          the newest eval run under runs/ made from the same config (same hash,
 *                      ignoring eval.parallel and the launcher, which do not change results) by the same diffx
 *                      version, so re-running an interrupted command continues it; else a new one.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { stringify } from "yaml";
import type { Config } from "../config/schema.js";
import { configHash, loadConfig } from "../config/load.js";
import { UsageError } from "../errors.js";
import { writeFileAtomic } from "../engine/atomic.js";
import { createRunDir, RUN_FILES } from "../runs/folder.js";
import { listOutputs, newManifest, readManifest, writeManifest, type RunManifest } from "../runs/manifest.js";
import { sha256File } from "../engine/hash.js";
import { DIFFX_VERSION } from "../runs/version.js";

/** The hash that decides whether two evals compute the same thing (eval.parallel and the launcher left out). */
export function evalIdentity(config: Config): string {
  const { launcher: _launcher, ...rest } = config;
  return configHash({ ...rest, eval: { ...config.eval, parallel: 1 } });
}

function isEvalRun(dir: string): boolean {
  if (!fs.existsSync(path.join(dir, RUN_FILES.manifest)) || !fs.existsSync(path.join(dir, RUN_FILES.config))) return false;
  try {
    return readManifest(dir).kind === "eval";
  } catch {
    return false;
  }
}

/** The newest eval run under `runsRoot` for the same config and diffx version, or null. */
export function findMatchingEval(runsRoot: string, config: Config): string | null {
  if (!fs.existsSync(runsRoot)) return null;
  const identity = evalIdentity(config);
  const candidates = fs
    .readdirSync(runsRoot)
    .filter((n) => n.startsWith(`${config.name}-`))
    .sort()
    .reverse();
  for (const name of candidates) {
    const dir = path.join(runsRoot, name);
    if (!isEvalRun(dir)) continue;
    try {
      const m = readManifest(dir);
      if (m.diffx_version !== DIFFX_VERSION) continue;
      if (evalIdentity(loadConfig(path.join(dir, RUN_FILES.config)).config) === identity) return dir;
    } catch {
      /* not a readable eval run: skip */
    }
  }
  return null;
}

export interface LocatedEval {
  /** The eval run folder to continue, or null when a new one is to be created. */
  runDir: string | null;
  config: Config;
  hash: string;
}

export interface EvalFolderOptions {
  runsRoot: string;
  runDir?: string;
  resume?: string;
  fresh?: boolean;
}

/**
 * Which eval run folder to use (nothing is created here): the config comes from the folder when
 * resuming, else from `loaded`; a continued folder must hold an eval of the same config.
 */
export function locateEvalFolder(o: EvalFolderOptions, loaded: { config: Config; hash: string } | null): LocatedEval {
  if (o.resume) {
    const dir = path.resolve(o.resume);
    if (!isEvalRun(dir)) throw new UsageError(`${o.resume}: not a diffx eval run (no ${RUN_FILES.manifest} of kind "eval" with a ${RUN_FILES.config})`);
    const { config, hash } = loadConfig(path.join(dir, RUN_FILES.config));
    if (readManifest(dir).config_hash !== hash) throw new UsageError(`${path.join(dir, RUN_FILES.config)} was edited after the eval started; start a new eval instead`);
    return { runDir: dir, config, hash };
  }
  if (!loaded) throw new UsageError("give a CONFIG file, or --resume EVALRUN");
  const continueIn = (dir: string): LocatedEval => {
    const recorded = loadConfig(path.join(dir, RUN_FILES.config));
    if (evalIdentity(recorded.config) !== evalIdentity(loaded.config)) {
      throw new UsageError(`${dir} holds an eval of a different config; choose another --run-dir, or continue it with --resume ${dir}`);
    }
    return { runDir: dir, config: recorded.config, hash: recorded.hash };
  };
  if (o.runDir) {
    const dir = path.resolve(o.runDir);
    if (isEvalRun(dir)) return continueIn(dir);
  } else if (!o.fresh) {
    const found = findMatchingEval(o.runsRoot, loaded.config);
    if (found) return continueIn(found);
  }
  return { runDir: null, config: loaded.config, hash: loaded.hash };
}

/** Create a new eval run folder (config.yaml + manifest.json of kind "eval"). */
export function createEvalFolder(o: EvalFolderOptions, config: Config): { runDir: string; manifest: RunManifest } {
  const runDir = createRunDir(o.runsRoot, config.name, o.runDir);
  writeFileAtomic(path.join(runDir, RUN_FILES.config), stringify(config));
  const manifest = newManifest("eval", config.seed, loadConfig(path.join(runDir, RUN_FILES.config)).hash, null);
  writeManifest(runDir, manifest);
  return { runDir, manifest };
}

/**
 * The eval manifest's output hashes: every file of the eval run except the contents of the fold
 * training runs, which are represented by their own manifest.json (it holds the sha256 of every
 * file of that training, checkpoints included), so large checkpoints are not hashed twice.
 */
export function hashEvalOutputs(runDir: string, manifest: RunManifest, trainingDirs: readonly string[]): void {
  const inside = trainingDirs.map((d) => path.relative(runDir, d).split(path.sep).join("/") + "/");
  const outputs: Record<string, string> = {};
  for (const rel of listOutputs(runDir)) {
    const training = inside.find((t) => rel.startsWith(t));
    if (training && rel !== `${training}${RUN_FILES.manifest}`) continue;
    if (rel.endsWith(`/${RUN_FILES.lock}`)) continue;
    outputs[rel] = sha256File(path.join(runDir, rel));
  }
  manifest.outputs = outputs;
}
