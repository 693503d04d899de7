/**
 * Adam / AdamW and the EMA of the weights, as plain loops over host Float32Arrays.
 *
 * - Adam: Kingma & Ba 2015, "Adam: A Method for Stochastic Optimization", Algorithm 1.
 * - AdamW (decoupled weight decay): Loshchilov & Hutter 2019, "Decoupled Weight Decay
 *   Regularization", Algorithm 2, line 12: θ_t ← θ_{t−1} − η_t(α·m̂_t/(√v̂_t + ε) + λ·θ_{t−1}).
 *   As in torch.optim.AdamW, the decay is scaled by the scheduled learning rate lr = η_t·α
 *   (the paper scales it by η_t alone): θ_t ← θ_{t−1} − lr·m̂_t/(√v̂_t + ε) − lr·λ·θ_{t−1}.
 *   With `decoupled: false` the decay is the classic L2 term added to the gradient
 *   (Algorithm 2, line 6: g_t ← ∇f + λθ_{t−1}; torch.optim.Adam's `weight_decay`).
 *
 * Float32 semantics (deterministic, documented): the state (parameters, m, v, EMA) is stored
 * as float32; each element's update is computed in float64 from the stored float32 values and
 * the result rounded once to float32 when it is stored (a Float32Array store rounds to
 * nearest). So one step is a pure function of the float32 state, the float32 gradient and the
 * scalars: a resumed run continues bit-identically, on any backend, for any worker count that
 * yields the same averaged gradient. m̂ and v̂ are taken from the stored (rounded) m and v, as
 * torch does.
 *
 * The update used to run as tfjs ops (one tensor per op and parameter, 10–20 % of a CPU
 * training step); in plain loops it costs a fraction of that and needs no tensors at all.
 */
import { RuntimeFailure } from "../errors.js";

export interface AdamSettings {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  decoupled: boolean;
}

export const ADAM_DEFAULTS = { beta1: 0.9, beta2: 0.999, eps: 1e-8 };

export class Adam {
  /** First moments m, one array per parameter (same order as the parameters). */
  readonly m: Float32Array[];
  /** Second moments v. */
  readonly v: Float32Array[];
  /** Number of updates applied so far (the t of Algorithm 1). */
  t = 0;

  constructor(
    sizes: readonly number[],
    private readonly s: AdamSettings,
  ) {
    this.m = sizes.map((n) => new Float32Array(n));
    this.v = sizes.map((n) => new Float32Array(n));
  }

  /**
   * One update with learning rate `lr`, in place: `params[k]` from gradient `grads[k]` times
   * `scale` (the clipping factor; 1 = none). The gradients are already averaged over workers.
   */
  apply(params: readonly Float32Array[], grads: readonly Float32Array[], scale: number, lr: number): void {
    if (params.length !== this.m.length || grads.length !== this.m.length) {
      throw new RuntimeFailure(`Adam: ${params.length} parameters and ${grads.length} gradients for ${this.m.length} moments`);
    }
    this.t += 1;
    const { beta1, beta2, eps, weightDecay, decoupled } = this.s;
    const bc1 = 1 - Math.pow(beta1, this.t); // bias corrections of Algorithm 1: 1 − β1^t, 1 − β2^t
    const bc2 = 1 - Math.pow(beta2, this.t);
    const l2 = decoupled ? 0 : weightDecay; // Adam + L2: g ← g + λθ
    const decay = decoupled ? lr * weightDecay : 0; // AdamW: θ ← θ − lr·λ·θ
    for (let k = 0; k < params.length; k++) {
      const p = params[k] as Float32Array;
      const g = grads[k] as Float32Array;
      const m = this.m[k] as Float32Array;
      const v = this.v[k] as Float32Array;
      if (g.length !== p.length || m.length !== p.length) throw new RuntimeFailure(`Adam: parameter ${k} has ${p.length} values, its gradient ${g.length}, its moments ${m.length}`);
      for (let i = 0; i < p.length; i++) {
        const pi = p[i] as number;
        const gi = (g[i] as number) * scale + l2 * pi;
        m[i] = beta1 * (m[i] as number) + (1 - beta1) * gi; // m_t = β1·m + (1 − β1)·g
        v[i] = beta2 * (v[i] as number) + (1 - beta2) * gi * gi; // v_t = β2·v + (1 − β2)·g²
        // θ_t = θ − lr·m̂/(√v̂ + ε) − lr·λ·θ, with m̂ = m_t/(1 − β1^t), v̂ = v_t/(1 − β2^t)
        // taken from the float32 m_t, v_t just stored
        p[i] = pi - (lr * ((m[i] as number) / bc1)) / (Math.sqrt((v[i] as number) / bc2) + eps) - decay * pi;
      }
    }
  }

  /** Replace the moments and the step count (from a checkpoint). */
  load(m: readonly Float32Array[], v: readonly Float32Array[], t: number): void {
    if (m.length !== this.m.length || v.length !== this.v.length) throw new RuntimeFailure(`Adam: the checkpoint holds ${m.length}/${v.length} moments for ${this.m.length} parameters`);
    m.forEach((x, k) => (this.m[k] as Float32Array).set(x));
    v.forEach((x, k) => (this.v[k] as Float32Array).set(x));
    this.t = t;
  }
}

/**
 * Exponential moving average of the weights, in place: e ← d·e + (1 − d)·θ (Polyak averaging
 * as used for diffusion models, e.g. Ho et al. 2020 §4 / Nichol & Dhariwal 2021), float64 per
 * element from the stored float32 values, rounded once when stored.
 */
export function updateEma(ema: readonly Float32Array[], params: readonly Float32Array[], decay: number): void {
  for (let k = 0; k < ema.length; k++) {
    const e = ema[k] as Float32Array;
    const p = params[k] as Float32Array;
    for (let i = 0; i < e.length; i++) e[i] = decay * (e[i] as number) + (1 - decay) * (p[i] as number);
  }
}

/** Global L2 norm of a set of gradients (float64 accumulation on the host). */
export function globalNorm(grads: ReadonlyMap<string, Float32Array> | readonly Float32Array[]): number {
  let s = 0;
  for (const g of grads instanceof Map ? grads.values() : (grads as readonly Float32Array[])) for (let i = 0; i < g.length; i++) s += (g[i] as number) * (g[i] as number);
  return Math.sqrt(s);
}
