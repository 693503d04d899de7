/**
 * Adapters (`train.adapter`, issue 15): a LoRA adapter trained on a frozen base.
 *
 * - The base is the `train.init` source (base:NAME or run:PATH), loaded exactly as a full
 *   fine-tune loads it (init.ts: the run's tokenizer may have grown the token embedding). Its
 *   weights never change and are never written by the run.
 * - The adapter's parameters (src/model/lora.ts) are the run's only trainable parameters: they
 *   alone have gradients, Adam moments and an EMA, and they alone are in the checkpoints, whose
 *   state.json records the adapter settings and the base's sha256 (`AdapterState`).
 * - Anything that loads a LoRA checkpoint (resume, sampling, export, verify) loads the base again
 *   and refuses it, exit 2, when its sha256 is not the one the adapter was trained on.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { AdapterConfig, Config } from "../config/schema.js";
import { RuntimeFailure, UsageError } from "../errors.js";
import { loraPlan, loraScale, loraSpecs } from "../model/lora.js";
import { modelParamSpecs } from "../model/model.js";
import { checkParams, countParams, type ParamMap, type ParamSpec } from "../model/params.js";
import { mergeLora, type LoraPlan } from "../nn/lora.js";
import { checkpointDir, latestWeights } from "./checkpoint.js";
import { loadInitSource, startingWeights } from "./init.js";

/** What a LoRA checkpoint records about its adapter (state.json `adapter`). */
export interface AdapterState {
  kind: "lora";
  rank: number;
  alpha: number;
  scale: number;
  targets: string[];
  /** Number of adapted layers. */
  layers: number;
  /** The frozen base: the train.init spec, what it resolved to, and the sha256 of its weights file. */
  base: { init: string; source: string; sha256: string };
}

/** A LoRA run's fixed parts: the frozen base, the adapter's declarations and its plan. */
export interface AdapterSetup {
  plan: LoraPlan;
  /** The adapter parameters (the run's trainable parameters). */
  specs: ParamSpec[];
  /** The base's weights for this model (never updated). */
  frozen: ParamMap;
  state: AdapterState;
}

function settings(a: AdapterConfig): { rank: number; alpha?: number; targets: AdapterConfig["targets"] } {
  return { rank: a.rank, alpha: a.alpha, targets: a.targets };
}

/** The adapter's plan and declarations for a config, without loading the base (null without train.adapter). */
export function adapterSpecs(config: Config, modelSpecs: readonly ParamSpec[]): { plan: LoraPlan; specs: ParamSpec[] } | null {
  const a = config.train.adapter;
  if (!a) return null;
  return { plan: loraPlan(modelSpecs, settings(a), config.model), specs: loraSpecs(modelSpecs, settings(a), config.model) };
}

/** Load the frozen base and declare the adapter (null when the config has no train.adapter). */
export function setupAdapter(config: Config, modelSpecs: readonly ParamSpec[]): AdapterSetup | null {
  const a = config.train.adapter;
  if (!a) return null;
  const source = loadInitSource(config.train.init);
  if (!source) throw new UsageError("train.adapter: an adapter fine-tunes a frozen base: set train.init to base:NAME or run:PATH");
  const declared = adapterSpecs(config, modelSpecs) as { plan: LoraPlan; specs: ParamSpec[] };
  const frozen = startingWeights(config, modelSpecs, 0); // the seed is unused for a base or a run
  const state: AdapterState = {
    kind: "lora",
    rank: a.rank,
    alpha: a.alpha ?? a.rank,
    scale: loraScale(settings(a)),
    targets: [...a.targets],
    layers: declared.plan.layers.size,
    base: { init: config.train.init, source: source.label, sha256: source.sha256 },
  };
  return { ...declared, frozen, state };
}

/**
 * Refuse an adapter recorded on another base than the one `setup` loaded (exit 2), or a
 * checkpoint of this LoRA run that records no adapter (damaged, exit 1). `where` names the checkpoint.
 */
export function checkAdapterBase(recorded: AdapterState | undefined, setup: AdapterSetup, where: string): void {
  if (!recorded) throw new RuntimeFailure(`${where}: the run trains a LoRA adapter (train.adapter) but its checkpoint records none (state.json has no "adapter"); the checkpoint is damaged or from another run`);
  const now = setup.state.base;
  if (recorded.base.sha256 !== now.sha256) {
    throw new UsageError(
      `${where}: this LoRA adapter was trained on ${recorded.base.source} with weights sha256 ${recorded.base.sha256.slice(0, 16)}…, but ${now.init} now resolves to ${now.source} with sha256 ${now.sha256.slice(0, 16)}…. An adapter only fits the base it was trained on: restore that base (check DIFFX_BASES) or train a new adapter on this one`,
    );
  }
}

/** The `adapter` record of a checkpoint's state.json, if any. */
export function readAdapterState(ckptDir: string): AdapterState | undefined {
  const file = path.join(ckptDir, "state.json");
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new RuntimeFailure(`${file}: unreadable checkpoint state (${(err as Error).message})`);
  }
  const a = (raw as { adapter?: unknown }).adapter;
  if (a === undefined) return undefined;
  const ok = typeof a === "object" && a !== null && typeof (a as AdapterState).base?.sha256 === "string";
  if (!ok) throw new RuntimeFailure(`${file}: the "adapter" record is damaged`);
  return a as AdapterState;
}

/** The weights a network of this run runs on: every parameter it asks for, and the LoRA plan (or null). */
export interface NetworkWeights {
  step: number;
  /** Base + adapter for a LoRA run; the model's parameters otherwise. */
  params: ParamMap;
  lora: LoraPlan | null;
  /** The checkpoint file the trained values come from (for messages). */
  file: string;
}

/**
 * The newest checkpoint's weights (EMA or raw) ready for a network: for a LoRA run the adapter
 * on its base, after checking the base is the one the adapter was trained on.
 */
export function networkWeights(runDir: string, config: Config, vocabSize: number, ema: boolean): NetworkWeights {
  const { step, params } = latestWeights(runDir, ema);
  const dir = checkpointDir(runDir, step);
  const file = path.join(dir, ema ? "ema.bin" : "params.bin");
  if (!config.train.adapter) return { step, params, lora: null, file };
  const setup = setupAdapter(config, modelParamSpecs(config.model, vocabSize)) as AdapterSetup;
  checkAdapterBase(readAdapterState(dir), setup, dir);
  checkParams(setup.specs, params, file);
  return { step, params: new Map([...setup.frozen, ...params]), lora: setup.plan, file };
}

/** The adapter folded into the base weights: a plain parameter map of the model. */
export function mergedWeights(w: NetworkWeights): ParamMap {
  if (!w.lora) return w.params;
  return mergeLora(w.params, w.lora);
}

/** Trainable and total parameters of a run (manifest `parameters`). */
export interface ParameterCounts {
  /** Parameters the optimizer updates. */
  trainable: number;
  /** Parameters the network runs with (the model's, plus the adapter's). */
  total: number;
  /** trainable / total. */
  ratio: number;
  /** The model's own parameters: what full fine-tuning trains. */
  model: number;
  /** trainable / model: the adapter's size as a fraction of full fine-tuning's trainable parameters. */
  fraction_of_full: number;
  adapter: { kind: "lora"; rank: number; alpha: number; targets: string[]; layers: number } | null;
}

export function parameterCounts(config: Config, vocabSize: number): ParameterCounts {
  const modelSpecs = modelParamSpecs(config.model, vocabSize);
  const model = countParams(modelSpecs);
  const declared = adapterSpecs(config, modelSpecs);
  const a = config.train.adapter;
  if (!declared || !a) return { trainable: model, total: model, ratio: 1, model, fraction_of_full: 1, adapter: null };
  const trainable = countParams(declared.specs);
  const total = model + trainable;
  return { trainable, total, ratio: trainable / total, model, fraction_of_full: trainable / model, adapter: { kind: "lora", rank: a.rank, alpha: a.alpha ?? a.rank, targets: [...a.targets], layers: declared.plan.layers.size } };
}
