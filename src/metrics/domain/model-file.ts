/**
 * The domain network on disk (format "diffx-domain-features/1"), two files in one folder:
 *
 *   weights.bin   every parameter as little-endian float32, concatenated in `params` order
 *   weights.json  metadata: architecture, input size, resize rule, normalisation, heads and
 *                 their classes, parameter names and shapes, weights.bin's size and sha256,
 *                 the reference set (generators, seeds, sizes, sha256), training settings,
 *                 held-out accuracy per head, diffx version
 *
 * The committed copy lives in src/metrics/domain/ (found from this module in src/ or dist/),
 * so evaluation never trains; `diffx features train` rewrites it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { writeFileAtomic, writeJsonAtomic } from "../../engine/atomic.js";
import { sha256 } from "../../engine/hash.js";
import { RuntimeFailure } from "../../errors.js";
import { checkParams, paramBytes, paramSize, paramsFromBytes, type ParamMap } from "../../model/params.js";
import { networkSpecs } from "./network.js";
import { makeDirs } from "../../engine/make-dirs.js";

export const MODEL_FORMAT = "diffx-domain-features/1";
export const WEIGHTS_FILE = "weights.bin";
export const META_FILE = "weights.json";

/** The generators the network knows (the built-in dataset kinds). */
export const DOMAIN_KINDS = ["art", "sketch2render"] as const;
export type DomainKind = (typeof DOMAIN_KINDS)[number];

/** The head that tells the generators apart. */
export const DOMAIN_HEAD = "domain";

export interface HeadDef {
  /** Parameter prefix `head.<name>`, e.g. "art.style". */
  name: string;
  /** The generator whose images the head is trained on; null for the domain head (both). */
  kind: DomainKind | null;
  /** Key in the generator's attributes ("domain" for the domain head). */
  attribute: string;
  classes: readonly string[];
}

const headSchema = z.object({
  name: z.string(),
  kind: z.enum(DOMAIN_KINDS).nullable(),
  attribute: z.string(),
  classes: z.array(z.string()).min(2),
});

/** What loading needs; the rest of the metadata (reference set, training, …) is kept as written. */
const metaSchema = z.object({
  format: z.literal(MODEL_FORMAT),
  diffx_version: z.string(),
  architecture: z.string(),
  feature_dims: z.number().int().positive(),
  input: z.object({ size: z.number().int().positive(), channels: z.literal(3), layout: z.literal("NHWC"), resize: z.string(), normalization: z.string() }),
  heads: z.array(headSchema).min(1),
  params: z.array(z.object({ name: z.string(), shape: z.array(z.number().int().nonnegative()) })),
  weights: z.object({ file: z.string(), bytes: z.number().int().nonnegative(), sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
  accuracy: z.record(z.string(), z.number()),
});

/** The checked fields of weights.json plus whatever else it records. */
export type DomainModelMeta = z.infer<typeof metaSchema> & Record<string, unknown>;

export interface DomainModel {
  dir: string;
  meta: DomainModelMeta;
  params: ParamMap;
}

/** src/metrics/domain of this package, from this module in src/metrics/domain or dist/metrics/domain. */
export function committedModelDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return path.resolve(here, "..", "..", "..", "src", "metrics", "domain");
}

/** Write weights.bin, then weights.json with its sha256 (each atomically). Returns the metadata written. */
export function writeDomainModel(dir: string, params: ParamMap, meta: Omit<z.infer<typeof metaSchema>, "params" | "weights"> & Record<string, unknown>): DomainModelMeta {
  const specs = networkSpecs(meta.heads);
  checkParams(specs, params, "domain network");
  const bytes = paramBytes(params, specs.map((s) => s.name), "domain network");
  makeDirs(dir);
  writeFileAtomic(path.join(dir, WEIGHTS_FILE), bytes);
  const full: DomainModelMeta = {
    ...meta,
    params: specs.map((s) => ({ name: s.name, shape: s.shape })),
    weights: { file: WEIGHTS_FILE, bytes: bytes.length, sha256: sha256(bytes) },
  };
  writeJsonAtomic(path.join(dir, META_FILE), full);
  return full;
}

/** Read and check a model folder: metadata shape, weights size and sha256, parameter names and shapes. */
export function readDomainModel(dir: string = committedModelDir()): DomainModel {
  const metaFile = path.join(dir, META_FILE);
  let text: string;
  try {
    text = fs.readFileSync(metaFile, "utf8");
  } catch {
    throw new RuntimeFailure(`${metaFile}: the domain feature extractor's metadata is missing; recreate it with 'diffx features train'`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new RuntimeFailure(`${metaFile}: not valid JSON (${(err as Error).message})`);
  }
  const parsed = metaSchema.loose().safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RuntimeFailure(`${metaFile}: ${issue.path.join(".") || "(top level)"}: ${issue.message}`);
  }
  const meta = parsed.data;
  const weightsFile = path.join(dir, meta.weights.file);
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(weightsFile);
  } catch {
    throw new RuntimeFailure(`${weightsFile}: the domain feature extractor's weights are missing; recreate them with 'diffx features train'`);
  }
  const digest = sha256(bytes);
  if (digest !== meta.weights.sha256) throw new RuntimeFailure(`${weightsFile}: sha256 ${digest} does not match ${META_FILE} (${meta.weights.sha256}); the weights file was changed`);
  const expected = meta.params.reduce((sum, p) => sum + paramSize(p.shape), 0) * 4;
  if (bytes.length !== expected) throw new RuntimeFailure(`${weightsFile}: ${bytes.length} bytes, but the parameters listed in ${META_FILE} need ${expected}`);

  const params = paramsFromBytes(bytes, meta.params);
  checkParams(networkSpecs(meta.heads), params, weightsFile);
  return { dir, meta, params };
}
