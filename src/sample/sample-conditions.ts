/**
 * The condition of every sample of a `diffx sample` call: prompts (text models), sketch files
 * (sketch models), the run's own dataset pairs (`--from-dataset`), or nothing (unconditional).
 * Sample i takes source i mod (number of sources), so prompts cycle when fewer than N.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { DatasetConfig } from "../config/schema.js";
import { openDataset } from "../data/build.js";
import type { Dataset } from "../data/dataset.js";
import { imageToFloats, readAnyImage, resizeArea } from "../engine/image.js";
import { silentProgress, type ProgressSink } from "../engine/progress.js";
import { UsageError } from "../errors.js";
import { readManifest } from "../runs/manifest.js";
import { RUN_FILES } from "../runs/folder.js";
import { splitCaption, UNK_ID, type Tokenizer } from "../model/tokenizer.js";
import { loadTrainingSet } from "../train/load-training-set.js";
import type { Condition } from "./conditions.js";
import { badOption, type RunInfo } from "./run-model.js";

/** The run's train/held-out split (written by `diffx train`). */
const SPLIT_FILE = RUN_FILES.split;

/**
 * The most samples one call makes: their records (and conditions) are held in memory until
 * samples.jsonl is written, ~2 KB each, so 100 000 (twice the 50k of a standard FID) take
 * ~200 MB; `--n 1000000000` would exhaust the heap after minutes of work instead.
 */
export const MAX_SAMPLES = 100_000;

/** Samples made when neither --n nor any condition source says how many. */
export const DEFAULT_UNCONDITIONAL_N = 8;

export interface ConditionArgs {
  /** Number of samples; default: one per prompt / sketch / dataset pair, else 8. */
  n?: number;
  prompts: readonly string[];
  sketches: readonly string[];
  fromDataset: boolean;
}

/** What samples.jsonl says about a sample's condition. */
export interface ConditionLabel {
  prompt?: string;
  /** The sketch file as given, or the dataset pair's sketch path. */
  sketch?: string;
  /** The dataset pair id (--from-dataset). */
  pair?: string;
}

export interface ResolvedConditions {
  n: number;
  conditions: Condition[];
  labels: ConditionLabel[];
  source: "prompts" | "sketches" | "dataset" | "none";
  /** --from-dataset: which pairs were used ("held_out" or "train") and the dataset hash. */
  dataset?: { split: "held_out" | "train"; rows: number; hash: string; dir: string };
}

/**
 * Checks the condition arguments against the model's conditioning and N, before anything is
 * loaded. Every problem is a UsageError (exit 2) naming the option.
 */
export function checkConditionArgs(info: RunInfo, args: ConditionArgs): void {
  const kind = info.config.model.conditioning;
  const where = `this run's model is ${kind === "none" ? "unconditional" : `${kind}-conditioned`} (model.conditioning: ${kind})`;
  if (args.n !== undefined && (!Number.isInteger(args.n) || args.n < 1)) throw badOption("--n", "a whole number ≥ 1", args.n);
  if (args.n !== undefined && args.n > MAX_SAMPLES) {
    throw new UsageError(`--n ${args.n}: at most ${MAX_SAMPLES} samples per call (each sample's record is kept in memory until samples.jsonl is written); make several calls with different --seed and --out`);
  }
  if (kind === "none") {
    if (args.prompts.length) throw new UsageError(`--prompt: ${where}; it takes no prompts`);
    if (args.sketches.length) throw new UsageError(`--sketch: ${where}; it takes no sketches`);
    if (args.fromDataset) throw new UsageError(`--from-dataset: ${where}; there are no conditions to take from the dataset`);
    return;
  }
  if (kind === "text" && args.sketches.length) throw new UsageError(`--sketch: ${where}; give --prompt TEXT or --from-dataset`);
  if (kind === "sketch" && args.prompts.length) throw new UsageError(`--prompt: ${where}; give --sketch FILE or --from-dataset`);
  args.prompts.forEach((p, i) => {
    // the same rule as captions at import: a prompt is visible text
    if (p.trim() === "") throw new UsageError(`--prompt: prompt ${i + 1} is empty`);
    if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(p)) throw new UsageError(`--prompt: prompt ${i + 1} contains a control character`);
  });
  const given = kind === "text" ? args.prompts.length : args.sketches.length;
  if (given && args.fromDataset) throw new UsageError(`give either ${kind === "text" ? "--prompt" : "--sketch"} or --from-dataset, not both`);
  if (!given && !args.fromDataset) throw new UsageError(`${where}: give ${kind === "text" ? "--prompt TEXT" : "--sketch FILE"} (repeatable) or --from-dataset`);
}

/** The conditions of samples 0 … N−1 (reads sketch files, or the run's dataset). */
export async function resolveConditions(info: RunInfo, args: ConditionArgs, opts: { cwd?: string; progress?: ProgressSink } = {}): Promise<ResolvedConditions> {
  checkConditionArgs(info, args);
  const model = info.config.model;
  const R = model.resolution;
  const cycle = <S>(sources: readonly S[], n: number): S[] => Array.from({ length: n }, (_, i) => sources[i % sources.length] as S);

  if (model.conditioning === "none") {
    const n = args.n ?? DEFAULT_UNCONDITIONAL_N;
    return { n, conditions: Array.from({ length: n }, () => ({})), labels: Array.from({ length: n }, () => ({})), source: "none" };
  }
  if (args.fromDataset) return fromDataset(info, args.n, opts);
  if (model.conditioning === "text") {
    if (info.tokenizer) for (const w of promptWarnings(args.prompts, info.tokenizer, model.max_tokens)) opts.progress?.warn(w);
    const n = args.n ?? args.prompts.length;
    const prompts = cycle(args.prompts, n);
    return { n, conditions: prompts.map((prompt) => ({ prompt })), labels: prompts.map((prompt) => ({ prompt })), source: "prompts" };
  }
  // Sketch files: each read once (any format sharp reads, grey), area-resized to the model's resolution.
  const pixels = new Map<string, Float32Array>();
  for (const file of args.sketches) {
    if (!pixels.has(file)) pixels.set(file, imageToFloats(resizeArea(await readAnyImage(file, 1), R)));
  }
  const n = args.n ?? args.sketches.length;
  const files = cycle(args.sketches, n);
  return {
    n,
    conditions: files.map((file) => ({ sketch: pixels.get(file), sketchSource: file })),
    labels: files.map((sketch) => ({ sketch })),
    source: "sketches",
  };
}

/** Words the run's tokenizer does not know (read as <unk>) and prompts longer than the model reads. */
export function promptWarnings(prompts: readonly string[], tokenizer: Tokenizer, maxTokens: number): string[] {
  const out: string[] = [];
  const unknown = new Set<string>();
  for (const p of new Set(prompts)) {
    const words = splitCaption(p);
    for (const w of words) if (tokenizer.id(w) === UNK_ID) unknown.add(w);
    // encode() puts <bos> first, so maxTokens − 1 words fit
    if (words.length > maxTokens - 1) out.push(`prompt ${JSON.stringify(p)} has ${words.length} tokens; the model reads only the first ${maxTokens - 1} (model.max_tokens ${maxTokens} includes <bos>)`);
  }
  if (unknown.size) out.push(`not in the run's vocabulary of ${tokenizer.size} tokens (read as <unk>): ${[...unknown].map((w) => JSON.stringify(w)).join(", ")}`);
  return out;
}

async function fromDataset(info: RunInfo, nArg: number | undefined, opts: { cwd?: string; progress?: ProgressSink }): Promise<ResolvedConditions> {
  const { config, runDir } = info;
  const R = config.model.resolution;
  const ds = openRunDataset(runDir, config.dataset, opts);
  let recorded: string | null = null;
  if (fs.existsSync(path.join(runDir, RUN_FILES.manifest))) recorded = readManifest(runDir).dataset_hash;
  if (recorded && recorded !== ds.hash) {
    throw new UsageError(`--from-dataset: ${ds.dir} is not the dataset this run was trained on (hash ${ds.hash.slice(0, 12)}… ≠ recorded ${recorded.slice(0, 12)}…)`);
  }
  const split = readSplit(runDir, ds.pairs.length);
  const heldOut = split.held_out.length > 0;
  const rows = heldOut ? split.held_out : split.train;
  if (rows.length === 0) throw new UsageError(`--from-dataset: ${path.join(runDir, SPLIT_FILE)} lists no pairs`);
  const set = await loadTrainingSet(ds, R);
  const n = nArg ?? rows.length;
  const conditions: Condition[] = [];
  const labels: ConditionLabel[] = [];
  for (let i = 0; i < n; i++) {
    const row = rows[i % rows.length] as number;
    const pair = ds.pairs[row];
    const id = set.ids[row] as string;
    if (config.model.conditioning === "text") {
      const prompt = set.captions[row]?.[0];
      if (prompt === undefined) throw new UsageError(`--from-dataset: pair ${id} of ${ds.dir} has no caption`);
      conditions.push({ prompt });
      labels.push({ prompt, pair: id });
    } else {
      if (!set.sketches || !pair?.sketch) throw new UsageError(`--from-dataset: pair ${id} of ${ds.dir} has no sketch`);
      conditions.push({ sketch: set.sketches.slice(row * R * R, (row + 1) * R * R), sketchSource: `${id} (${pair.sketch})` });
      labels.push({ sketch: pair.sketch, pair: id });
    }
  }
  return { n, conditions, labels, source: "dataset", dataset: { split: heldOut ? "held_out" : "train", rows: rows.length, hash: ds.hash, dir: ds.dir } };
}

/**
 * The run's dataset. `datasets/<name>` (and relative `dataset.path`) were resolved against the
 * working directory of `diffx train`; that is usually the current directory or the folder that
 * holds `runs/`, so both are tried (a generated dataset missing from both is rebuilt in the
 * current directory; its hash is then checked against the run's).
 */
function openRunDataset(runDir: string, cfg: DatasetConfig, opts: { cwd?: string; progress?: ProgressSink }): Dataset {
  const cwd = path.resolve(opts.cwd ?? process.cwd());
  const projectRoot = path.dirname(path.dirname(runDir));
  const rel = cfg.kind === "folder" ? (cfg.path ?? "") : path.join("datasets", cfg.name);
  const base = [cwd, projectRoot].find((b) => fs.existsSync(path.resolve(b, rel))) ?? cwd;
  return openDataset(cfg, { cwd: base, progress: opts.progress ?? silentProgress });
}

function readSplit(runDir: string, pairs: number): { train: number[]; held_out: number[] } {
  const file = path.join(runDir, SPLIT_FILE);
  if (!fs.existsSync(file)) return { train: Array.from({ length: pairs }, (_, i) => i), held_out: [] };
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new UsageError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  const rowsOf = (key: "train" | "held_out"): number[] => {
    const v = raw && typeof raw === "object" ? (raw as Record<string, unknown>)[key] : undefined;
    if (!Array.isArray(v) || !v.every((r): r is number => Number.isInteger(r) && r >= 0 && r < pairs)) {
      throw new UsageError(`${file}: "${key}" must be a list of pair rows 0 … ${pairs - 1}`);
    }
    return v;
  };
  return { train: rowsOf("train"), held_out: rowsOf("held_out") };
}
