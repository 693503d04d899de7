/**
 * Where a training's weights start (`train.init`):
 *
 * - `scratch`: the seeded initialisation of every parameter (model/params.ts);
 * - `base:NAME`: a pretrained base model (base-file.ts; `diffx base list`);
 * - `run:PATH[@STEP]`: the EMA weights of a training run's newest checkpoint, or of step STEP.
 *
 * The source's model and diffusion sections must equal the config's (a shape that differs
 * cannot load, and a different schedule or prediction would silently mean something else):
 * a mismatch is a UsageError naming both sides. Only the optimizer starts fresh; the EMA starts
 * at the loaded weights.
 *
 * Vocabulary. A text model fine-tuned on captions with words its source never saw keeps the
 * source's tokenizer and appends the new words to it (Tokenizer.extendedWith): every known word
 * keeps its id and its learned embedding, and each new word's embedding row starts as a copy of
 * the source's <unk> row — so before fine-tuning the model reads a new word exactly as the
 * source read it (as unknown), and fine-tuning gives it a meaning of its own. The alternative,
 * mapping new words to <unk> for good, would make them indistinguishable forever. (A LoRA run,
 * train.adapter, freezes the embedding with the rest of the base: there new words stay <unk>.)
 */
import * as path from "node:path";
import type { Config, DiffusionConfig, ModelConfig } from "../config/schema.js";
import { loadConfig } from "../config/load.js";
import { sha256File } from "../engine/hash.js";
import { RuntimeFailure, UsageError } from "../errors.js";
import { checkParams, initParams, type ParamMap, type ParamSpec } from "../model/params.js";
import { Tokenizer, UNK_ID } from "../model/tokenizer.js";
import { openRunTokenizer } from "./run-tokenizer.js";
import { requireRunDir, RUN_FILES } from "../runs/folder.js";
import { baseDir, readBase } from "./base-file.js";
import { checkpointDir, listCheckpoints, readCheckpoint } from "./checkpoint.js";

export type InitSpec = { kind: "scratch" } | { kind: "base"; name: string } | { kind: "run"; path: string; step: number | null };

/** Parse `train.init` (the schema has checked its shape). */
export function parseInit(spec: string): InitSpec {
  if (spec === "scratch") return { kind: "scratch" };
  if (spec.startsWith("base:")) return { kind: "base", name: spec.slice("base:".length) };
  if (spec.startsWith("run:")) {
    const rest = spec.slice("run:".length);
    const m = /^(.*)@(\d+)$/.exec(rest);
    return m ? { kind: "run", path: m[1], step: Number(m[2]) } : { kind: "run", path: rest, step: null };
  }
  throw new UsageError(`train.init: '${spec}' is not scratch, base:NAME or run:PATH[@STEP]`);
}

/** The weights a non-scratch init loads, with what they were trained as. */
export interface InitSource {
  /** "base:art-32" or "run:/abs/run@1500" (the checkpoint step is always given). */
  label: string;
  /** sha256 of the weights file the values come from (base weights.bin, checkpoint ema.bin). */
  sha256: string;
  model: ModelConfig;
  diffusion: DiffusionConfig;
  tokenizer: Tokenizer | null;
  /** EMA weights. */
  params: ParamMap;
}

/** Load the source `train.init` names, or null for scratch. */
export function loadInitSource(spec: string): InitSource | null {
  const init = parseInit(spec);
  if (init.kind === "scratch") return null;
  if (init.kind === "base") {
    const base = readBase(baseDir(init.name));
    return { label: `base:${init.name}`, sha256: base.meta.weights.sha256, model: base.model, diffusion: base.diffusion, tokenizer: base.tokenizer, params: base.params };
  }
  const runDir = requireRunDir(init.path);
  const { config } = loadConfig(path.join(runDir, RUN_FILES.config));
  if (config.train.adapter) {
    throw new UsageError(`train.init: ${runDir} is a LoRA run (its checkpoints hold only the adapter); fine-tune from its base (${config.train.init}) with the same train.adapter, or from a merged export`);
  }
  const steps = listCheckpoints(runDir);
  if (steps.length === 0) throw new UsageError(`train.init: ${runDir} has no checkpoint yet (train it first)`);
  const step = init.step ?? steps[steps.length - 1];
  if (!steps.includes(step)) throw new UsageError(`train.init: ${runDir} has no checkpoint at step ${step} (it has ${steps.join(", ")})`);
  const dir = checkpointDir(runDir, step);
  const tokenizer = openRunTokenizer(runDir, config);
  return { label: `run:${runDir}@${step}`, sha256: sha256File(path.join(dir, "ema.bin")), model: config.model, diffusion: config.diffusion, tokenizer, params: readCheckpoint(dir).ema };
}

/** The diffusion keys a fine-tune must share with its source (the loss weighting may differ). */
const SHARED_DIFFUSION_KEYS = ["timesteps", "schedule", "prediction"] as const;

/** A UsageError (exit 2) naming every key where the config and the source differ, both sides. */
export function checkInitCompatible(config: Config, source: InitSource, where: string): void {
  const diffs: string[] = [];
  const show = (v: unknown): string => JSON.stringify(v);
  for (const key of Object.keys(config.model) as (keyof ModelConfig)[]) {
    if (show(config.model[key]) !== show(source.model[key])) diffs.push(`model.${key}: ${show(config.model[key])} here, ${show(source.model[key])} in ${source.label}`);
  }
  for (const key of SHARED_DIFFUSION_KEYS) {
    if (config.diffusion[key] !== source.diffusion[key]) diffs.push(`diffusion.${key}: ${show(config.diffusion[key])} here, ${show(source.diffusion[key])} in ${source.label}`);
  }
  if (diffs.length) {
    throw new UsageError(`${where}: train.init ${source.label} does not fit this config's model: ${diffs.join("; ")}. Use the source's model and diffusion settings (diffx base show NAME prints them), or train.init: scratch`);
  }
}

/** The tokenizer of a fine-tune: the source's, with the training captions' new words appended. */
export function initTokenizer(source: InitSource, captions: Iterable<string>): { tokenizer: Tokenizer; added: string[] } {
  if (!source.tokenizer) throw new RuntimeFailure(`${source.label}: a text model without a tokenizer`);
  return source.tokenizer.extendedWith(captions);
}

/**
 * The starting weights for `specs`: the seeded initialisation for scratch, else copies of the
 * source's weights, with the token embedding grown by one row (a copy of <unk>) per added word.
 */
export function startingWeights(config: Config, specs: readonly ParamSpec[], seed: number): ParamMap {
  const source = loadInitSource(config.train.init);
  if (!source) return initParams(specs, seed);
  const out: ParamMap = new Map();
  for (const spec of specs) {
    const p = source.params.get(spec.name);
    if (!p) throw new UsageError(`train.init ${source.label}: has no parameter "${spec.name}" that this model needs`);
    if (spec.name === "text.embed" && p.shape[0] < spec.shape[0] && p.shape[1] === spec.shape[1]) {
      const d = p.shape[1];
      const data = new Float32Array(spec.shape[0] * d);
      data.set(p.data);
      const unk = p.data.subarray(UNK_ID * d, (UNK_ID + 1) * d);
      for (let row = p.shape[0]; row < spec.shape[0]; row++) data.set(unk, row * d);
      out.set(spec.name, { shape: spec.shape.slice(), data });
    } else if (p.shape.join(",") !== spec.shape.join(",")) {
      const what = spec.name === "text.embed" ? ` (vocabulary: ${p.shape[0]} tokens in the source, ${spec.shape[0]} in this run's tokenizer, which must extend the source's)` : "";
      throw new UsageError(`train.init ${source.label}: parameter "${spec.name}" has shape [${p.shape.join(", ")}] there and [${spec.shape.join(", ")}] here${what}`);
    } else out.set(spec.name, { shape: p.shape.slice(), data: Float32Array.from(p.data) });
  }
  checkParams(specs, out, `train.init ${source.label}`);
  return out;
}
