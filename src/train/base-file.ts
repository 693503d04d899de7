/**
 * A base model on disk (format "diffx-base/1"): the pretrained starting point that
 * `train.init: base:NAME` fine-tunes from. One folder per base, two files:
 *
 *   weights.bin  the EMA weights of the pretraining run's final checkpoint, every parameter as
 *                little-endian float32, concatenated in `params` order
 *   base.json    what the weights are: the model and diffusion sections they were trained
 *                with, the tokenizer (text models), parameter names and shapes, weights.bin's
 *                size and sha256; and where they came from: the corpus (generator, version,
 *                seed, n), the pretraining config and its hash, steps, final loss, backend,
 *                and the held-out scores (FID/KID, text control) with how they were computed
 *
 * The shipped bases live in src/train/bases/<name>/ (found from this module in src/ or dist/);
 * `diffx pretrain CONFIG` writes one (there by default) and reproduces the shipped weights bit
 * for bit on the same backend.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { diffusionSchema, modelSchema, type DiffusionConfig, type ModelConfig } from "../config/schema.js";
import { writeFileAtomic, writeJsonAtomic } from "../engine/atomic.js";
import { sha256 } from "../engine/hash.js";
import { RuntimeFailure, UsageError } from "../errors.js";
import { modelParamSpecs } from "../model/model.js";
import { checkParams, paramBytes, paramSize, paramsFromBytes, type ParamMap } from "../model/params.js";
import { Tokenizer, type TokenizerJson } from "../model/tokenizer.js";
import { makeDirs } from "../engine/make-dirs.js";

export const BASE_FORMAT = "diffx-base/1";
export const BASE_WEIGHTS_FILE = "weights.bin";
export const BASE_META_FILE = "base.json";

/** What loading needs; everything else in base.json (provenance, scores) is kept as written. */
const metaSchema = z.object({
  format: z.literal(BASE_FORMAT),
  name: z.string(),
  diffx_version: z.string(),
  model: modelSchema,
  diffusion: diffusionSchema,
  tokenizer: z.unknown().nullable(),
  params: z.array(z.object({ name: z.string(), shape: z.array(z.number().int().nonnegative()) })),
  weights: z.object({ file: z.string(), bytes: z.number().int().nonnegative(), sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
});

export type BaseMeta = z.infer<typeof metaSchema> & Record<string, unknown>;

export interface BaseModel {
  name: string;
  dir: string;
  meta: BaseMeta;
  model: ModelConfig;
  diffusion: DiffusionConfig;
  tokenizer: Tokenizer | null;
  params: ParamMap;
}

/** src/train/bases of this package, from this module in src/train or dist/train. */
export function shippedBasesDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return path.resolve(here, "..", "..", "src", "train", "bases");
}

/** Names of the shipped bases (folders holding a base.json), sorted. */
export function listBases(root: string = shippedBasesDir()): string[] {
  if (!fs.existsSync(root)) return [];
  return fs
    .readdirSync(root)
    .filter((d) => fs.existsSync(path.join(root, d, BASE_META_FILE)))
    .sort();
}

export interface BaseProvenance {
  name: string;
  diffxVersion: string;
  model: ModelConfig;
  diffusion: DiffusionConfig;
  tokenizer: TokenizerJson | null;
  /** Provenance and scores, written into base.json as they are. */
  extra: Record<string, unknown>;
}

/** Write weights.bin, then base.json with its sha256 (each atomically). Returns the metadata. */
export function writeBase(dir: string, params: ParamMap, p: BaseProvenance): BaseMeta {
  const vocab = p.tokenizer ? p.tokenizer.vocab.length : 0;
  const specs = modelParamSpecs(p.model, vocab);
  checkParams(specs, params, `base ${p.name}`);
  const bytes = paramBytes(params, specs.map((s) => s.name), `base ${p.name}`);
  makeDirs(dir);
  writeFileAtomic(path.join(dir, BASE_WEIGHTS_FILE), bytes);
  const meta: BaseMeta = {
    format: BASE_FORMAT,
    name: p.name,
    diffx_version: p.diffxVersion,
    model: p.model,
    diffusion: p.diffusion,
    tokenizer: p.tokenizer,
    params: specs.map((s) => ({ name: s.name, shape: s.shape })),
    weights: { file: BASE_WEIGHTS_FILE, bytes: bytes.length, sha256: sha256(bytes) },
    ...p.extra,
  };
  writeJsonAtomic(path.join(dir, BASE_META_FILE), meta);
  return meta;
}

/** The metadata of a base folder, checked (weights not read). */
export function readBaseMeta(dir: string): BaseMeta {
  const file = path.join(dir, BASE_META_FILE);
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
    throw new RuntimeFailure(missing ? `${file}: missing (a base model folder holds base.json and weights.bin)` : `${file}: not valid JSON (${(err as Error).message})`);
  }
  const parsed = metaSchema.loose().safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RuntimeFailure(`${file}: ${issue.path.join(".") || "(top level)"}: ${issue.message}`);
  }
  return parsed.data as BaseMeta;
}

/**
 * Where bases are looked up, first match wins: the folders in $DIFFX_BASES (path-list separated,
 * for bases a user pretrained with `diffx pretrain --out DIR`), then the shipped ones.
 */
export function baseRoots(): string[] {
  const extra = (process.env.DIFFX_BASES ?? "").split(path.delimiter).filter((d) => d.length > 0);
  return [...extra.map((d) => path.resolve(d)), shippedBasesDir()];
}

/** Every base name found in `roots`, sorted, with the folder it is taken from. */
export function findBases(roots: readonly string[] = baseRoots()): { name: string; dir: string }[] {
  const seen = new Map<string, string>();
  for (const root of roots) for (const name of listBases(root)) if (!seen.has(name)) seen.set(name, path.join(root, name));
  return [...seen].map(([name, dir]) => ({ name, dir })).sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** The folder of base `name` (UsageError naming the available ones when there is none). */
export function baseDir(name: string, roots: readonly string[] = baseRoots()): string {
  const found = findBases(roots).find((b) => b.name === name);
  if (!found) {
    const known = findBases(roots).map((b) => b.name);
    throw new UsageError(`no base model named '${name}' (${known.length ? `available: ${known.join(", ")}` : "none is installed"}; 'diffx base list' shows them, 'diffx pretrain CONFIG' makes one)`);
  }
  return found.dir;
}

/** Read and check a base: metadata, weights' size and sha256, parameter names and shapes. */
export function readBase(dir: string): BaseModel {
  const meta = readBaseMeta(dir);
  const weightsFile = path.join(dir, meta.weights.file);
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(weightsFile);
  } catch {
    throw new RuntimeFailure(`${weightsFile}: the base model's weights are missing`);
  }
  const digest = sha256(bytes);
  if (digest !== meta.weights.sha256) throw new RuntimeFailure(`${weightsFile}: sha256 ${digest} does not match ${BASE_META_FILE} (${meta.weights.sha256}); the weights file was changed`);
  const expected = meta.params.reduce((sum, p) => sum + paramSize(p.shape), 0) * 4;
  if (bytes.length !== expected) throw new RuntimeFailure(`${weightsFile}: ${bytes.length} bytes, but the parameters listed in ${BASE_META_FILE} need ${expected}`);
  const tokenizer = meta.tokenizer ? Tokenizer.fromJSON(meta.tokenizer, `${path.join(dir, BASE_META_FILE)} (tokenizer)`) : null;
  const params = paramsFromBytes(bytes, meta.params);
  checkParams(modelParamSpecs(meta.model, tokenizer ? tokenizer.size : 0), params, weightsFile);
  return { name: meta.name, dir, meta, model: meta.model, diffusion: meta.diffusion, tokenizer, params };
}
