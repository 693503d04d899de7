/**
 * `domain`: diffx's own feature extractor. A small CNN (network.ts) trained by
 * `diffx features train` to predict the built-in generators' attributes; its 128-d penultimate
 * layer gives the FID/KID features, and its heads predict attributes for the control metrics.
 * The weights are committed (src/metrics/domain/weights.bin + weights.json).
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend, type BackendRequest } from "../../engine/backend.js";
import type { Image } from "../../engine/image.js";
import { RuntimeFailure } from "../../errors.js";
import { disposeTensors, paramTensors, TfjsOps } from "../../nn/tfjs-ops.js";
import type { FeatureExtractor } from "../extractor.js";
import { committedModelDir, DOMAIN_HEAD, DOMAIN_KINDS, readDomainModel, type DomainKind, type DomainModel, type HeadDef } from "./model-file.js";
import { FEATURE_DIMS, features, headLogits, INPUT_CHANNELS, INPUT_SIZE } from "./network.js";
import { INPUT_VOLUME, preprocess } from "./preprocess.js";

/** Images per forward pass. */
const BATCH = 64;

export interface DomainExtractorOptions {
  /** Model folder (default: the committed src/metrics/domain). */
  dir?: string;
  /** Backend to start when none is running yet (default "auto", one thread). */
  backend?: BackendRequest;
}

/** Predicted attributes of one image: `domain` plus the attributes of its generator, as text. */
export type PredictedAttributes = Record<string, string>;

export class DomainExtractor implements FeatureExtractor {
  readonly name = "domain";
  readonly dims: number;
  /** Every attribute name some head predicts (both generators; "domain" not included). */
  readonly attributes: readonly string[];
  /** The tfjs backend the network runs on. */
  readonly backend: string;
  private readonly tensors: Map<string, tf.Tensor>;
  private readonly ops: TfjsOps;

  private constructor(readonly model: DomainModel) {
    this.dims = model.meta.feature_dims;
    this.attributes = [...new Set(model.meta.heads.filter((h) => h.kind !== null).map((h) => h.attribute))];
    this.tensors = paramTensors(model.params);
    this.ops = new TfjsOps(this.tensors);
    this.backend = tf.getBackend();
  }

  /**
   * Load the weights (checked against their sha256) and start a tfjs backend if none is
   * running: the caller's choice when it already started one, else `options.backend` with one
   * thread (no worker threads are left behind in library use).
   */
  static async load(options: DomainExtractorOptions = {}): Promise<DomainExtractor> {
    const model = readDomainModel(options.dir ?? committedModelDir());
    const m = model.meta;
    if (m.input.size !== INPUT_SIZE || m.feature_dims !== FEATURE_DIMS) {
      throw new RuntimeFailure(`${model.dir}: weights are for a ${m.input.size}-px input and ${m.feature_dims} features, this diffx's network takes ${INPUT_SIZE} px and gives ${FEATURE_DIMS}; retrain with 'diffx features train'`);
    }
    if (!tf.engine().backendName) await initBackend(options.backend ?? "auto", { threads: 1 });
    return new DomainExtractor(model);
  }

  describe(): string {
    const m = this.model.meta;
    return (
      `diffx domain CNN (${m.architecture}; weights sha256 ${m.weights.sha256.slice(0, 16)}…, diffx ${m.diffx_version}), ` +
      `${this.dims} features from the global average pool; input ${m.input.size}×${m.input.size}×${m.input.channels} ${m.input.layout} float32; ` +
      `each image converted to RGB (grey replicated), resized to ${m.input.size}×${m.input.size} with ${m.input.resize}, normalised to ${m.input.normalization}`
    );
  }

  /** The heads, in the order of the metadata. */
  get heads(): readonly HeadDef[] {
    return this.model.meta.heads;
  }

  /** Held-out accuracy per head recorded when the weights were trained. */
  get heldoutAccuracy(): Readonly<Record<string, number>> {
    return this.model.meta.accuracy;
  }

  /** The attribute keys predicted for images of generator `kind` (e.g. art: style, shape, color, count, background). */
  attributeKeys(kind: DomainKind): string[] {
    return this.heads.filter((h) => h.kind === kind).map((h) => h.attribute);
  }

  async extract(images: Image[]): Promise<Float64Array[]> {
    return this.featureRows(images);
  }

  /** Features of `images`, synchronously (one row per image). */
  featureRows(images: Image[]): Float64Array[] {
    const rows: Float64Array[] = [];
    this.forEachBatch(images, (x, n) => {
      const f = tf.tidy(() => features(this.ops, x));
      const values = f.dataSync() as Float32Array;
      f.dispose();
      for (let i = 0; i < n; i++) rows.push(Float64Array.from(values.subarray(i * this.dims, (i + 1) * this.dims)));
    });
    return rows;
  }

  /** Logits of every head for `images`: head name → one Float32Array of class scores per image. */
  logits(images: Image[]): Map<string, Float32Array[]> {
    const out = new Map<string, Float32Array[]>(this.heads.map((h) => [h.name, []]));
    this.forEachBatch(images, (x, n) => {
      const perHead = tf.tidy(() => {
        const f = features(this.ops, x);
        return this.heads.map((h) => headLogits(this.ops, f, h.name));
      });
      this.heads.forEach((h, k) => {
        const values = perHead[k].dataSync() as Float32Array;
        const c = h.classes.length;
        for (let i = 0; i < n; i++) out.get(h.name)?.push(values.slice(i * c, (i + 1) * c));
      });
      tf.dispose(perHead);
    });
    return out;
  }

  /**
   * The most likely attributes of each image: `domain` (the domain head's answer) and the
   * attributes of generator `kind`, values as text (the art count as "1"…"4"). Without `kind`,
   * each image gets the attributes of the generator the domain head sees in it (an image taken
   * for the wrong generator then fails every attribute of the right one).
   */
  async predictAttributes(images: Image[], kind?: DomainKind): Promise<PredictedAttributes[]> {
    return this.predictAttributesSync(images, kind);
  }

  /** predictAttributes, synchronously. */
  predictAttributesSync(images: Image[], kind?: DomainKind): PredictedAttributes[] {
    const logits = this.logits(images);
    const pick = (head: HeadDef, i: number): string => head.classes[argmax(logits.get(head.name)?.[i] ?? new Float32Array(0))];
    const domainHead = this.heads.find((h) => h.name === DOMAIN_HEAD);
    if (!domainHead) throw new RuntimeFailure(`${this.model.dir}: the domain network has no '${DOMAIN_HEAD}' head`);
    return images.map((_, i) => {
      const domain = pick(domainHead, i);
      const target = kind ?? DOMAIN_KINDS.find((k) => k === domain);
      const out: PredictedAttributes = { domain };
      for (const h of this.heads) if (h.kind !== null && h.kind === target) out[h.attribute] = pick(h, i);
      return out;
    });
  }

  async release(): Promise<void> {
    disposeTensors(this.tensors);
  }

  /** Run `fn` on batches of preprocessed images (NHWC tensors, disposed afterwards). */
  private forEachBatch(images: Image[], fn: (x: tf.Tensor, n: number) => void): void {
    for (let start = 0; start < images.length; start += BATCH) {
      const batch = images.slice(start, start + BATCH);
      const data = new Float32Array(batch.length * INPUT_VOLUME);
      batch.forEach((img, i) => preprocess(img, data, i * INPUT_VOLUME));
      const x = tf.tensor4d(data, [batch.length, INPUT_SIZE, INPUT_SIZE, INPUT_CHANNELS]);
      try {
        fn(x, batch.length);
      } finally {
        x.dispose();
      }
    }
  }
}

function argmax(values: Float32Array): number {
  if (values.length === 0) throw new RuntimeFailure("domain network: a head produced no scores");
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** Load the committed domain extractor (the `domain` spec of loadExtractor). */
export function loadDomainExtractor(options: DomainExtractorOptions = {}): Promise<DomainExtractor> {
  return DomainExtractor.load(options);
}
