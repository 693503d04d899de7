/**
 * `onnx:PATH`: features from any ONNX image model run by onnxruntime-node (e.g. an Inception-v3
 * pool3 export for standard FID). The model must take one float32 NCHW image tensor; its chosen
 * output is flattened per image. Preprocessing, done here the same way for every image:
 * convert to the model's channel count, resize with half-pixel bilinear (resizeBilinearFloat:
 * no antialias, no crop, aspect ratio not kept) on 0–255 floats, then normalise.
 */
import * as fs from "node:fs";
import * as ort from "onnxruntime-node";
import { sha256File } from "../engine/hash.js";
import { type Image, resizeBilinearFloat } from "../engine/image.js";
import { RuntimeFailure, UsageError } from "../errors.js";
import type { FeatureExtractor } from "./extractor.js";

/** y = (x / 255 − mean[c]) / std[c]; one value for all channels or one per RGB channel. */
export interface Normalization {
  name: string;
  mean: readonly number[];
  std: readonly number[];
}

export const NORMALIZATIONS: Record<string, Normalization> = {
  "[-1,1]": { name: "[-1,1]", mean: [0.5], std: [0.5] },
  "[0,1]": { name: "[0,1]", mean: [0], std: [1] },
  "[0,255]": { name: "[0,255]", mean: [0], std: [1 / 255] },
  imagenet: { name: "imagenet", mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
};

export function parseNormalization(text: string): Normalization {
  const n = NORMALIZATIONS[text.replace(/\s+/g, "").toLowerCase()];
  if (!n) throw new UsageError(`--normalize '${text}' is not one of ${Object.keys(NORMALIZATIONS).join(", ")}`);
  return n;
}

function describeNormalization(n: Normalization): string {
  if (n.name === "imagenet") return `ImageNet mean/std ((x/255 − [${n.mean.join(", ")}]) / [${n.std.join(", ")}])`;
  return `${n.name} ((x/255 − ${n.mean[0]}) / ${n.std[0]})`;
}

export interface OnnxExtractorOptions {
  inputSize?: number;
  normalize: Normalization;
  outputName?: string;
  batchSize?: number;
}

/**
 * Write one image into `out` at `offset` as a C×H×W float32 block: channel conversion
 * (grey → replicated, RGB → luma 0.299/0.587/0.114), half-pixel bilinear resize, normalisation.
 */
export function preprocessImage(img: Image, width: number, height: number, channels: 1 | 3, norm: Normalization, out: Float32Array, offset = 0): void {
  const pixels = img.width * img.height;
  const src = new Float32Array(pixels * channels);
  for (let i = 0; i < pixels; i++) {
    if (channels === img.channels) {
      for (let k = 0; k < channels; k++) src[i * channels + k] = img.data[i * channels + k];
    } else if (channels === 3) {
      src[i * 3] = src[i * 3 + 1] = src[i * 3 + 2] = img.data[i];
    } else {
      src[i] = 0.299 * img.data[i * 3] + 0.587 * img.data[i * 3 + 1] + 0.114 * img.data[i * 3 + 2];
    }
  }
  const resized = resizeBilinearFloat(src, img.width, img.height, channels, width, height);
  const plane = width * height;
  for (let k = 0; k < channels; k++) {
    const mean = norm.mean.length === 1 ? norm.mean[0] : norm.mean[k];
    const std = norm.std.length === 1 ? norm.std[0] : norm.std[k];
    for (let p = 0; p < plane; p++) out[offset + k * plane + p] = (resized[p * channels + k] / 255 - mean) / std;
  }
}

interface InputLayout {
  name: string;
  channels: 1 | 3;
  width: number;
  height: number;
  /** The model's fixed batch size, or null when the batch dimension is free. */
  fixedBatch: number | null;
}

export async function loadOnnxExtractor(file: string, options: OnnxExtractorOptions): Promise<FeatureExtractor> {
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new UsageError(`${file}: ONNX model file not found`);
  let session: ort.InferenceSession;
  try {
    // idle intra-op threads sleep instead of spinning: spinning threads take the cores from the
    // thread with work on a busy machine (a forward 1.5–3× slower, measured for onnx-runner.ts)
    session = await ort.InferenceSession.create(file, { logSeverityLevel: 3, graphOptimizationLevel: "all", extra: { session: { intra_op: { allow_spinning: "0" } } } });
  } catch (err) {
    throw new UsageError(`${file}: not a loadable ONNX model (${firstLine(err)})`);
  }
  const input = inputLayout(session, file, options.inputSize);
  const norm = options.normalize;
  if (input.channels === 1 && norm.mean.length > 1) throw new UsageError(`${file}: the model takes 1-channel images, but '${norm.name}' normalisation is per RGB channel`);
  const outputName = options.outputName ?? session.outputNames[0];
  if (!session.outputNames.includes(outputName)) throw new UsageError(`${file}: no output named '${outputName}' (outputs: ${session.outputNames.join(", ")})`);
  const batchSize = input.fixedBatch ?? options.batchSize ?? 16;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new UsageError(`batch size must be a positive integer, got ${batchSize}`);
  const hash = sha256File(file).slice(0, 16);
  const volume = input.channels * input.height * input.width;

  /** Run one batch (padded with zero images up to a fixed batch size); returns `count` rows. */
  const runBatch = async (images: Image[]): Promise<Float64Array[]> => {
    const n = input.fixedBatch ?? images.length;
    const data = new Float32Array(n * volume);
    images.forEach((img, i) => preprocessImage(img, input.width, input.height, input.channels, norm, data, i * volume));
    let result: ort.InferenceSession.ReturnType;
    try {
      const feeds = { [input.name]: new ort.Tensor("float32", data, [n, input.channels, input.height, input.width]) };
      result = await session.run(feeds, [outputName]);
    } catch (err) {
      throw new RuntimeFailure(`${file}: inference failed (${firstLine(err)})`);
    }
    const out = result[outputName] as ort.Tensor;
    if (out.dims.length < 1 || out.dims[0] !== n) throw new UsageError(`${file}: output '${outputName}' has shape [${out.dims.join(", ")}]; its first axis must be the batch (${n})`);
    if (out.type !== "float32" && out.type !== "float64") throw new UsageError(`${file}: output '${outputName}' is ${out.type}; features must be float32 or float64`);
    const values = out.data as Float32Array | Float64Array;
    const d = values.length / n;
    const rows: Float64Array[] = [];
    for (let i = 0; i < images.length; i++) rows.push(Float64Array.from(values.subarray(i * d, (i + 1) * d)));
    return rows;
  };

  const probe = createBlank(input.width, input.height, input.channels);
  const dims = (await runBatch([probe]))[0].length;

  return {
    name: `onnx:${file}`,
    dims,
    describe: () =>
      `ONNX model ${file} (sha256 ${hash}…), output '${outputName}' flattened to ${dims} features; ` +
      `input ${input.channels}×${input.height}×${input.width} NCHW float32; each image converted to ${input.channels === 3 ? "RGB (grey replicated)" : "grey (luma 0.299/0.587/0.114)"}, ` +
      `resized to ${input.width}×${input.height} with half-pixel bilinear (no antialias, no crop, aspect ratio not kept), ` +
      `normalised to ${describeNormalization(norm)}`,
    async extract(images: Image[]): Promise<Float64Array[]> {
      const rows: Float64Array[] = [];
      for (let i = 0; i < images.length; i += batchSize) rows.push(...(await runBatch(images.slice(i, i + batchSize))));
      return rows;
    },
    async release(): Promise<void> {
      await session.release();
    },
  };
}

function inputLayout(session: ort.InferenceSession, file: string, inputSize: number | undefined): InputLayout {
  if (session.inputNames.length !== 1) throw new UsageError(`${file}: the model has ${session.inputNames.length} inputs (${session.inputNames.join(", ")}); an image feature model must take exactly one NCHW image tensor`);
  const meta = session.inputMetadata[0];
  const name = session.inputNames[0];
  if (inputSize !== undefined && (!Number.isInteger(inputSize) || inputSize < 1)) throw new UsageError(`--input-size must be a positive integer, got ${inputSize}`);
  let shape: ReadonlyArray<number | string> = [];
  if (meta && meta.isTensor) {
    if (meta.type !== "float32") throw new UsageError(`${file}: input '${name}' is ${meta.type}; diffx feeds float32 images`);
    shape = meta.shape;
  }
  if (shape.length !== 0 && shape.length !== 4) throw new UsageError(`${file}: input '${name}' has shape [${shape.join(", ")}]; expected 4-D NCHW`);
  const fixed = (i: number): number | null => (shape.length === 4 && typeof shape[i] === "number" && shape[i] > 0 ? (shape[i] as number) : null);
  const c = fixed(1) ?? 3;
  if (c !== 1 && c !== 3) throw new UsageError(`${file}: input '${name}' has ${c} channels; expected 1 or 3 (NCHW)`);
  const h = fixed(2), w = fixed(3);
  if (inputSize !== undefined && ((h !== null && h !== inputSize) || (w !== null && w !== inputSize))) {
    throw new UsageError(`${file}: the model's input is fixed at ${h ?? "?"}×${w ?? "?"} pixels but --input-size is ${inputSize}`);
  }
  const height = h ?? inputSize, width = w ?? inputSize;
  if (height === undefined || width === undefined) throw new UsageError(`${file}: the model's input size is not fixed; give --input-size`);
  return { name, channels: c, width, height, fixedBatch: fixed(0) };
}

function createBlank(width: number, height: number, channels: 1 | 3): Image {
  return { width, height, channels, data: new Uint8Array(width * height * channels) };
}

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split("\n")[0];
}
