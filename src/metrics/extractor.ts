/**
 * Feature extractors turn images into feature vectors for FID/KID. Every extractor says how
 * its features were computed (`describe()`), so a report can state it next to each number.
 *
 * Specs: `domain` (diffx's own small CNN, weights committed in src/metrics/domain/; the default),
 * `pixels` (downsampled RGB values, no model) or `onnx:PATH` (any ONNX image model).
 */
import type { BackendName } from "../engine/backend.js";
import type { Image } from "../engine/image.js";
import { UsageError } from "../errors.js";

export interface FeatureExtractor {
  /** Short name, e.g. "domain" or "onnx:models/inception.onnx". */
  name: string;
  /** Length of each feature vector. */
  dims: number;
  /** How features are computed: model, input size, resize rule, normalisation. */
  describe(): string;
  /** domain: the tfjs backend its network runs on (absent for extractors without a tfjs network). */
  backend?: string;
  /** One feature vector per image, in order. */
  extract(images: Image[]): Promise<Float64Array[]>;
  /** Free native resources (optional). */
  release?(): Promise<void>;
}

export interface ExtractorOptions {
  /** Square input side in pixels (onnx: default from the model's static input shape). */
  inputSize?: number;
  /** Pixel normalisation (onnx: default "[-1,1]"). */
  normalize?: string;
  /** Model output to use as features (onnx: default the first output). */
  outputName?: string;
  /** Images per inference call (onnx: default 16, or the model's fixed batch size). */
  batchSize?: number;
  /** domain: the tfjs backend to start when none runs yet (the global --backend; default auto). */
  backend?: BackendName;
}

export const DEFAULT_FEATURES = "domain";

/** Load the extractor named by `spec` ("domain" or "onnx:PATH"). */
export async function loadExtractor(spec: string, options: ExtractorOptions = {}): Promise<FeatureExtractor> {
  if (spec === "domain") {
    // loaded on demand, so commands that never score images do not load tfjs
    const { loadDomainExtractor } = await import("./domain/domain-extractor.js");
    return loadDomainExtractor({ backend: options.backend });
  }
  if (spec === "pixels") {
    const { pixelExtractor } = await import("./pixel-extractor.js");
    return pixelExtractor();
  }
  if (spec.startsWith("onnx:")) {
    const file = spec.slice("onnx:".length);
    if (file === "") throw new UsageError("--features onnx:PATH needs a model path after 'onnx:'");
    // loaded on demand, so commands that never run a model do not load onnxruntime
    const { loadOnnxExtractor, parseNormalization } = await import("./onnx-extractor.js");
    const normalize = parseNormalization(options.normalize ?? "[-1,1]");
    return loadOnnxExtractor(file, { inputSize: options.inputSize, normalize, outputName: options.outputName, batchSize: options.batchSize });
  }
  throw new UsageError(`unknown feature extractor '${spec}' (expected 'domain', 'pixels' or 'onnx:PATH')`);
}
