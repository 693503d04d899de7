/**
 * What the network predicts, and how to turn its raw output into the data estimate x̂_0 and the
 * noise estimate ε̂. Engine-neutral (Float32Array in and out, float64 arithmetic per element),
 * used by the samplers and the VLB; `objective.ts` has the same formulas on tfjs tensors.
 *
 * Notation: x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε ([DDPM] eq. 4). With a = √ᾱ_t, s = √(1 − ᾱ_t)
 * (a² + s² = 1, the variance-preserving process):
 * - "eps" ([DDPM] §3.2, eq. 11): the network predicts ε. x̂_0 = (x_t − s ε̂) / a (eq. 4 solved for
 *   x_0; also DDIM, Song et al. 2021, eq. 9 "predicted x_0").
 * - "v" (Salimans & Ho, "Progressive Distillation for Fast Sampling of Diffusion Models",
 *   ICLR 2022, §4 and App. D): the network predicts v = a ε − s x_0. Then
 *   x̂_0 = a x_t − s v̂ and ε̂ = s x_t + a v̂.
 */
import { RuntimeFailure } from "../errors.js";

export type Prediction = "eps" | "v";

/** x̂_0 and ε̂ for one element, given the raw model output `out` at signal level ᾱ. */
function splitElement(out: number, xt: number, a: number, s: number, prediction: Prediction): [number, number] {
  if (prediction === "eps") {
    // [DDPM] eq. 4 solved for x_0: x̂_0 = (x_t − √(1−ᾱ) ε̂) / √ᾱ
    return [(xt - s * out) / a, out];
  }
  // Salimans & Ho 2022 §4: x̂_0 = √ᾱ x_t − √(1−ᾱ) v̂,  ε̂ = √(1−ᾱ) x_t + √ᾱ v̂
  return [a * xt - s * out, s * xt + a * out];
}

export interface X0Eps {
  x0: Float64Array;
  eps: Float64Array;
}

/**
 * Convert model output to (x̂_0, ε̂) when every element shares one signal level ᾱ (the samplers:
 * all samples of a batch are at the same timestep).
 */
export function outputToX0Eps(out: Float32Array, xt: Float32Array, alphaBar: number, prediction: Prediction): X0Eps {
  checkSameLength(out, xt);
  const a = Math.sqrt(alphaBar);
  const s = Math.sqrt(1 - alphaBar);
  const x0 = new Float64Array(out.length);
  const eps = new Float64Array(out.length);
  for (let k = 0; k < out.length; k++) {
    const [x, e] = splitElement(out[k], xt[k], a, s, prediction);
    x0[k] = x;
    eps[k] = e;
  }
  return { x0, eps };
}

/**
 * Convert model output to (x̂_0, ε̂) with one signal level per sample (`alphaBars[b]` for the
 * b-th block of `out.length / alphaBars.length` elements).
 */
export function outputToX0EpsPerSample(
  out: Float32Array,
  xt: Float32Array,
  alphaBars: ArrayLike<number>,
  prediction: Prediction,
): X0Eps {
  checkSameLength(out, xt);
  const size = sampleSizeOf(out.length, alphaBars.length);
  const x0 = new Float64Array(out.length);
  const eps = new Float64Array(out.length);
  for (let b = 0; b < alphaBars.length; b++) {
    const a = Math.sqrt(alphaBars[b]);
    const s = Math.sqrt(1 - alphaBars[b]);
    for (let k = b * size; k < (b + 1) * size; k++) {
      const [x, e] = splitElement(out[k], xt[k], a, s, prediction);
      x0[k] = x;
      eps[k] = e;
    }
  }
  return { x0, eps };
}

/** ε̂ implied by a (possibly clipped) x̂_0: ε̂ = (x_t − √ᾱ x̂_0) / √(1 − ᾱ) ([DDPM] eq. 4). */
export function epsFromX0(x0: Float64Array, xt: Float32Array, alphaBar: number): Float64Array {
  const a = Math.sqrt(alphaBar);
  const s = Math.sqrt(1 - alphaBar);
  const eps = new Float64Array(x0.length);
  for (let k = 0; k < x0.length; k++) eps[k] = (xt[k] - a * x0[k]) / s;
  return eps;
}

/** Elements per sample, checking that `total` splits evenly into `batch` samples. */
export function sampleSizeOf(total: number, batch: number): number {
  if (batch < 1 || total % batch !== 0) {
    throw new RuntimeFailure(`${total} values do not split into ${batch} samples`);
  }
  return total / batch;
}

function checkSameLength(a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) throw new RuntimeFailure(`model output has ${a.length} values but x_t has ${b.length}`);
}
