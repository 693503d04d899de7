/**
 * Building the built-in datasets from a config's `dataset` section, and opening the dataset a
 * config names (building it first when it does not exist yet).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { RuntimeFailure, UsageError } from "../errors.js";
import { silentProgress, type ProgressSink } from "../engine/progress.js";
import { datasetSize, type DatasetConfig } from "../config/schema.js";
import { loadDataset, verifyDataset, type Dataset, type DatasetKind, type GeneratedPair, type GeneratorInfo } from "./dataset.js";
import { writeDataset, type WriteResult } from "./write.js";
import { ART_GENERATOR, generateArtPair } from "./art/generate.js";
import { RENDER_GENERATOR, generateRenderPair } from "./render/generate.js";

export interface Generator {
  kind: DatasetKind;
  info: GeneratorInfo;
  /** Pair `index` of the dataset with this seed, drawn at `size` px. */
  pair(seed: number, index: number, size: number): GeneratedPair;
}

export const GENERATORS: Readonly<Record<DatasetKind, Generator>> = {
  art: { kind: "art", info: ART_GENERATOR, pair: generateArtPair },
  sketch2render: { kind: "sketch2render", info: RENDER_GENERATOR, pair: generateRenderPair },
};

function generatorFor(cfg: DatasetConfig): Generator {
  if (cfg.kind === "folder") throw new UsageError("dataset.kind is 'folder': there is nothing to generate; import your pairs with 'diffx data import' and point dataset.path at the folder");
  return GENERATORS[cfg.kind];
}

/** Where a generated dataset lives by default: `<cwd>/datasets/<dataset.name>`. */
export function defaultDatasetDir(cfg: DatasetConfig, cwd: string = process.cwd()): string {
  return path.resolve(cwd, "datasets", cfg.name);
}

export interface BuildOptions {
  /** Replace a different dataset already at `outDir`. */
  force?: boolean;
  progress?: ProgressSink;
}

/**
 * Generate the dataset described by `cfg` into `outDir`. Same config ⇒ byte-identical files
 * and the same dataset hash; an identical dataset already there is reused untouched.
 */
export function buildDataset(cfg: DatasetConfig, outDir: string, opts: BuildOptions = {}): WriteResult {
  const gen = generatorFor(cfg);
  const n = datasetSize(cfg);
  const progress = opts.progress ?? silentProgress;
  const pairs: GeneratedPair[] = [];
  progress.start(`building ${cfg.kind} dataset`, n);
  try {
    for (let i = 0; i < n; i++) {
      pairs.push(gen.pair(cfg.seed, i, cfg.image_size));
      progress.update(i + 1);
    }
  } finally {
    progress.stop();
  }
  return writeDataset(outDir, { kind: gen.kind, generator: gen.info, seed: cfg.seed, image_size: cfg.image_size, pairs }, { force: opts.force });
}

/** Differences between a dataset's manifest and what the config asks for (empty when it matches). */
export function configMismatches(ds: Dataset, cfg: DatasetConfig): string[] {
  if (cfg.kind === "folder") return [];
  const gen = GENERATORS[cfg.kind];
  const m = ds.manifest;
  const out: string[] = [];
  if (m.kind !== cfg.kind) out.push(`kind ${m.kind} (config: ${cfg.kind})`);
  if (m.generator.name !== gen.info.name || m.generator.version !== gen.info.version) out.push(`generator ${m.generator.name} ${m.generator.version} (this diffx: ${gen.info.name} ${gen.info.version})`);
  if (m.seed !== cfg.seed) out.push(`seed ${m.seed} (config: ${cfg.seed})`);
  if (m.n !== datasetSize(cfg)) out.push(`n ${m.n} (config: ${datasetSize(cfg)})`);
  if (m.image_size !== cfg.image_size) out.push(`image_size ${m.image_size} (config: ${cfg.image_size})`);
  return out;
}

export interface OpenOptions {
  /** Base folder for `datasets/<name>` (default: the current working directory). */
  cwd?: string;
  progress?: ProgressSink;
  /** Check every file's sha256 against the manifest (default true). */
  verify?: boolean;
}

/**
 * The dataset a config names, ready to use: `dataset.path` for kind `folder`; otherwise
 * `datasets/<name>`, built first if it does not exist. A folder built from other settings is
 * a UsageError (rebuild with `diffx data build --force`); a tampered one a RuntimeFailure.
 */
export function openDataset(cfg: DatasetConfig, opts: OpenOptions = {}): Dataset {
  let dir: string;
  if (cfg.kind === "folder") {
    if (cfg.path === undefined) throw new UsageError("dataset.path: required when dataset.kind is 'folder'");
    dir = path.resolve(opts.cwd ?? process.cwd(), cfg.path);
    if (!fs.existsSync(dir)) throw new UsageError(`dataset.path: ${dir}: dataset folder not found (create it with 'diffx data import')`);
  } else {
    dir = defaultDatasetDir(cfg, opts.cwd);
    if (!fs.existsSync(dir)) buildDataset(cfg, dir, { progress: opts.progress });
  }
  const ds = loadDataset(dir);
  const diff = configMismatches(ds, cfg);
  if (diff.length > 0) throw new UsageError(`${dir} was built with different settings: ${diff.join(", ")}; rebuild it with 'diffx data build CONFIG --force'`);
  if (opts.verify !== false) {
    const check = verifyDataset(dir);
    if (!check.ok) throw new RuntimeFailure(`${dir}: dataset files do not match manifest.json: ${[...check.changed.map((f) => `${f} changed`), ...check.missing.map((f) => `${f} missing`)].join(", ")}`);
  }
  return ds;
}
