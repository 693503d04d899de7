/**
 * Classifier-free guidance (Ho & Salimans, "Classifier-Free Diffusion Guidance", 2022, eq. 6).
 *
 * Their eq. 6 is ε̃ = (1 + w') ε_θ(z, c) − w' ε_θ(z); we use the common scale w = 1 + w'
 * (diffusers' `guidance_scale`): out = uncond + w · (cond − uncond). w = 1 is the conditional
 * model alone, w = 0 the unconditional one. Because x̂_0 and ε̂ are affine in the network output
 * at fixed x_t, guiding a v-model's output is the same as guiding its ε̂, so this applies to the
 * raw output of either prediction type.
 */
import { RuntimeFailure } from "../../errors.js";
import type { Denoiser } from "./types.js";

/** uncond + w · (cond − uncond), element-wise. */
export function guide(cond: Float32Array, uncond: Float32Array, w: number): Float32Array {
  if (cond.length !== uncond.length) {
    throw new RuntimeFailure(`guidance: conditional output has ${cond.length} values, unconditional ${uncond.length}`);
  }
  const out = new Float32Array(cond.length);
  for (let k = 0; k < cond.length; k++) out[k] = uncond[k] + w * (cond[k] - uncond[k]);
  return out;
}

/**
 * A guided Denoiser from one network call over a doubled batch: `pairNet` receives
 * [x; x] and [t; t] (2B samples) and must run the first B with the condition and the last B with
 * the null condition (conditional and null condition in one batch). Its output is split and
 * combined with `guide`.
 */
export function guidedDenoiser(pairNet: Denoiser, w: number): Denoiser {
  return async (x, t) => {
    const n = x.length;
    const x2 = new Float32Array(2 * n);
    x2.set(x, 0);
    x2.set(x, n);
    const t2 = new Float32Array(2 * t.length);
    t2.set(t, 0);
    t2.set(t, t.length);
    const out = await pairNet(x2, t2);
    if (out.length !== 2 * n) {
      throw new RuntimeFailure(`guided network returned ${out.length} values for a doubled batch of ${2 * n}`);
    }
    return guide(out.subarray(0, n), out.subarray(n), w);
  };
}
