/**
 * The JSON written beside an exported model (`model.onnx` → `model.json`, format
 * "diffx-onnx/1"): everything besides the network that sampling needs — prediction type,
 * noise schedule, resolution, conditioning and the tokenizer — so the two files alone are
 * enough to sample (`diffx sample --engine onnx`).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import { modelSchema } from "../config/schema.js";
import { writeJsonAtomic } from "../engine/atomic.js";
import { sha256File } from "../engine/hash.js";
import { UsageError } from "../errors.js";

export const ONNX_SIDECAR_FORMAT = "diffx-onnx/1";

const dimSchema = z.union([z.number().int().positive(), z.literal("batch")]);

export const onnxSidecarSchema = z.strictObject({
  format: z.literal(ONNX_SIDECAR_FORMAT),
  diffx_version: z.string(),
  /** The model file's name, in the same folder as this JSON. */
  model_file: z.string().min(1),
  /** sha256 of the model file: a sidecar never pairs with another export. */
  model_sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** Where the weights came from. */
  source: z.strictObject({
    run: z.string().nullable(),
    step: z.number().int().nonnegative().nullable(),
    ema: z.boolean(),
    config_hash: z.string().nullable(),
    /** A LoRA run's export: the adapter traced as a LoRA layer, or folded into the weights (`export --merge`). */
    lora: z.enum(["unmerged", "merged"]).optional(),
  }),
  /** What the network predicts: noise ε or velocity v. */
  prediction: z.enum(["eps", "v"]),
  /** The training noise schedule (samplers rebuild ᾱ_t from kind and T). */
  schedule: z.strictObject({
    kind: z.enum(["linear", "cosine"]),
    timesteps: z.number().int().positive(),
  }),
  /** Image size in pixels (square) and channels of the model's image input/output. */
  resolution: z.number().int().positive(),
  image_channels: z.number().int().positive(),
  conditioning: z.enum(["text", "sketch", "none"]),
  /** The graph's inputs (e.g. x, t, tokens or sketch), as exported. */
  inputs: z.array(
    z.strictObject({
      name: z.string().min(1),
      dtype: z.enum(["float32", "int32", "int64"]),
      shape: z.array(dimSchema),
    }),
  ),
  output: z.strictObject({
    name: z.string().min(1),
    shape: z.array(dimSchema.nullable()),
  }),
  /** The tokenizer's own JSON (text conditioning), else null. */
  tokenizer: z.unknown().nullable(),
  /** Caption length in tokens (text conditioning), else null. */
  max_tokens: z.number().int().positive().nullable(),
  /** The run's resolved `model` config section (the network's shape and condition inputs). */
  model_config: modelSchema,
});

export type OnnxSidecar = z.infer<typeof onnxSidecarSchema>;

/** `dir/name.onnx` → `dir/name.json`. */
export function sidecarPathFor(onnxFile: string): string {
  return onnxFile.replace(/\.onnx$/i, "") + ".json";
}

export function writeOnnxSidecar(file: string, sidecar: OnnxSidecar): void {
  writeJsonAtomic(file, onnxSidecarSchema.parse(sidecar));
}

/** Reads and validates a sidecar; errors name the file and the key. */
export function readOnnxSidecar(file: string): OnnxSidecar {
  if (!fs.existsSync(file)) throw new UsageError(`${file}: missing (an exported model needs its JSON sidecar; re-run diffx export)`);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new UsageError(`${file}: not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  const parsed = onnxSidecarSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? issue.path.join(".") : "(top level)";
    throw new UsageError(`${file}: ${where}: ${issue ? issue.message : "invalid"}`);
  }
  return parsed.data;
}

/** Reads the sidecar beside `onnxFile` and checks it describes that very file. */
export function loadOnnxExport(onnxFile: string): { modelFile: string; sidecar: OnnxSidecar } {
  if (!fs.existsSync(onnxFile)) throw new UsageError(`${onnxFile}: no such ONNX model file`);
  const sidecarFile = sidecarPathFor(onnxFile);
  const sidecar = readOnnxSidecar(sidecarFile);
  if (sidecar.model_file !== path.basename(onnxFile)) throw new UsageError(`${sidecarFile}: model_file is "${sidecar.model_file}", not ${path.basename(onnxFile)}`);
  if (sha256File(onnxFile) !== sidecar.model_sha256) throw new UsageError(`${onnxFile}: does not match ${sidecarFile} (sha256 differs); re-run diffx export`);
  return { modelFile: onnxFile, sidecar };
}
