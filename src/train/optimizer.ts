/**
 * Adam / AdamW on tfjs variables (Kingma & Ba 2015, Algorithm 1; decoupled weight decay:
 * Loshchilov & Hutter 2019, Algorithm 2), with clipping by global norm. The moments are plain
 * tensors we own, so a checkpoint can save and restore them exactly.
 */
import * as tf from "@tensorflow/tfjs";

export interface AdamSettings {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  decoupled: boolean;
}

export const ADAM_DEFAULTS = { beta1: 0.9, beta2: 0.999, eps: 1e-8 };

export class Adam {
  readonly m = new Map<string, tf.Tensor>();
  readonly v = new Map<string, tf.Tensor>();
  /** Number of updates applied so far. */
  t = 0;

  constructor(
    private readonly vars: ReadonlyMap<string, tf.Variable>,
    private readonly s: AdamSettings,
  ) {
    for (const [name, p] of vars) {
      this.m.set(name, tf.zerosLike(p));
      this.v.set(name, tf.zerosLike(p));
    }
  }

  /** Apply one update with learning rate `lr` from gradients (already averaged and clipped). */
  apply(grads: ReadonlyMap<string, tf.Tensor>, lr: number): void {
    this.t += 1;
    const { beta1, beta2, eps, weightDecay, decoupled } = this.s;
    const bc1 = 1 - Math.pow(beta1, this.t);
    const bc2 = 1 - Math.pow(beta2, this.t);
    for (const [name, p] of this.vars) {
      const g0 = grads.get(name);
      if (!g0) continue;
      const [m, v] = tf.tidy(() => {
        const g = !decoupled && weightDecay > 0 ? tf.add(g0, tf.mul(p, weightDecay)) : g0;
        const m1 = tf.add(tf.mul(this.m.get(name)!, beta1), tf.mul(g, 1 - beta1)); // m_t = β1 m + (1−β1) g
        const v1 = tf.add(tf.mul(this.v.get(name)!, beta2), tf.mul(tf.square(g), 1 - beta2)); // v_t = β2 v + (1−β2) g²
        // θ ← θ − lr · m̂ / (√v̂ + ε), with m̂ = m/bc1, v̂ = v/bc2
        const update = tf.div(tf.div(m1, bc1), tf.add(tf.sqrt(tf.div(v1, bc2)), eps));
        let next = tf.sub(p, tf.mul(update, lr));
        if (decoupled && weightDecay > 0) next = tf.sub(next, tf.mul(p, lr * weightDecay)); // AdamW: θ ← θ − lr·λ·θ
        p.assign(next);
        return [m1, v1];
      });
      this.m.get(name)!.dispose();
      this.v.get(name)!.dispose();
      this.m.set(name, m);
      this.v.set(name, v);
    }
  }

  /** Replace the moments (from a checkpoint). */
  load(m: ReadonlyMap<string, Float32Array>, v: ReadonlyMap<string, Float32Array>, t: number): void {
    for (const [name, p] of this.vars) {
      const md = m.get(name), vd = v.get(name);
      if (!md || !vd) continue;
      this.m.get(name)!.dispose();
      this.v.get(name)!.dispose();
      this.m.set(name, tf.tensor(md, p.shape, "float32"));
      this.v.set(name, tf.tensor(vd, p.shape, "float32"));
    }
    this.t = t;
  }

  dispose(): void {
    for (const x of this.m.values()) x.dispose();
    for (const x of this.v.values()) x.dispose();
  }
}

/** Global L2 norm of a set of gradients (float64 accumulation on the host). */
export function globalNorm(grads: ReadonlyMap<string, Float32Array>): number {
  let s = 0;
  for (const g of grads.values()) for (let i = 0; i < g.length; i++) s += g[i] * g[i];
  return Math.sqrt(s);
}
