/**
 * Layer helpers written once against the op interface, so the tfjs and ONNX interpreters run
 * the same network. Each helper reads its parameters by name under a prefix; the matching
 * declarations (shapes, inits) are the spec builders in src/model/params.ts and the block
 * spec functions in src/model/unet.ts.
 *
 * Shapes: images NHWC [N, H, W, C]; sequences [N, L, C]. Batch sizes are never computed
 * with (reshape writes them as 0).
 */
import type { Ops, Padding } from "./ops.js";

export const NORM_EPS = 1e-5;

/** y = x · W + b with `name.weight` [in, out] and `name.bias` [out]. */
export function linear<T>(ops: Ops<T>, x: T, name: string): T {
  return ops.linear(x, ops.param(`${name}.weight`), ops.param(`${name}.bias`));
}

/**
 * Convolution with `name.weight` HWIO [k, k, in, out] and `name.bias` [out]. Padding is
 * explicit; by default (k − 1)/2 on every side (PyTorch `padding=k//2`), so stride 1 keeps
 * the size and stride 2 with k = 3 halves an even size.
 */
export function conv<T>(ops: Ops<T>, x: T, name: string, stride = 1, pad?: Padding): T {
  const weight = ops.param(`${name}.weight`);
  const k = ops.shape(weight)[0];
  const p = Math.floor((k - 1) / 2);
  return ops.conv2d(x, weight, ops.param(`${name}.bias`), stride, pad ?? [p, p, p, p]);
}

export function groupNorm<T>(ops: Ops<T>, x: T, name: string, groups: number): T {
  return ops.groupNorm(x, groups, ops.param(`${name}.gamma`), ops.param(`${name}.beta`), NORM_EPS);
}

export function layerNorm<T>(ops: Ops<T>, x: T, name: string): T {
  return ops.layerNorm(x, ops.param(`${name}.gamma`), ops.param(`${name}.beta`), NORM_EPS);
}

/**
 * Sinusoidal embedding of a float timestep t [N] → [N, dim] (Vaswani et al. 2017 §3.5, in the
 * form of DDPM's `get_timestep_embedding`, Ho et al. 2020): with half = dim/2 and
 * f_i = exp(−ln(10000) · i / (half − 1)), emb = [sin(t·f_0 … t·f_{half−1}), cos(t·f_0 …)].
 */
export function timestepEmbedding<T>(ops: Ops<T>, t: T, dim: number): T {
  const half = dim / 2;
  const freqs = new Float32Array(half);
  for (let i = 0; i < half; i++) freqs[i] = Math.exp((-Math.log(10000) * i) / (half - 1));
  const angles = ops.mul(ops.reshape(t, [0, 1]), ops.constant(freqs, [1, half]));
  return ops.concat([ops.sin(angles), ops.cos(angles)], 1);
}

/**
 * Scaled dot-product attention (Vaswani et al. 2017, eq. 1) with `heads` heads:
 * q [N, S, C], k and v [N, L, C] → [N, S, C]; each head sees C/heads channels and
 * softmax(q kᵀ / √(C/heads)) v.
 */
export function multiHeadAttention<T>(ops: Ops<T>, q: T, k: T, v: T, heads: number): T {
  const [, s, c] = ops.shape(q);
  const l = ops.shape(k)[1];
  const d = c / heads;
  if (heads === 1) {
    const weights = ops.softmax(ops.scale(ops.matMul(q, k, false, true), 1 / Math.sqrt(d)));
    return ops.matMul(weights, v);
  }
  const split = (x: T, len: number) => ops.transpose(ops.reshape(x, [0, len, heads, d]), [0, 2, 1, 3]); // [N, heads, len, d]
  const weights = ops.softmax(ops.scale(ops.matMul(split(q, s), split(k, l), false, true), 1 / Math.sqrt(d)));
  const out = ops.matMul(weights, split(v, l)); // [N, heads, S, d]
  return ops.reshape(ops.transpose(out, [0, 2, 1, 3]), [0, s, c]);
}

/**
 * Residual block (Ho et al. 2020, App. B; the ADM/improved-DDPM layout):
 * h = conv1(SiLU(GN1(x))) + Linear_time(SiLU(temb)); h = conv2(SiLU(GN2(h)));
 * out = skip(x) + h, where skip is a 1×1 projection (`name.skip`, a linear over channels)
 * when the channel count changes, else identity.
 * Parameters: norm1, conv1, time, norm2, conv2 [, skip].
 */
export function resBlock<T>(ops: Ops<T>, x: T, temb: T, name: string, outCh: number, groups: number): T {
  const inCh = ops.shape(x)[3];
  let h = conv(ops, ops.silu(groupNorm(ops, x, `${name}.norm1`, groups)), `${name}.conv1`);
  const timeShift = ops.reshape(linear(ops, ops.silu(temb), `${name}.time`), [0, 1, 1, outCh]);
  h = ops.add(h, timeShift);
  h = conv(ops, ops.silu(groupNorm(ops, h, `${name}.norm2`, groups)), `${name}.conv2`);
  const skip = inCh === outCh ? x : linear(ops, x, `${name}.skip`);
  return ops.add(skip, h);
}

/**
 * Self-attention over the pixels of an NHWC map, residual: x + out(Attn(q, k, v)) with
 * q, k, v linear maps of GN(x). Parameters: norm, q, k, v, out.
 */
export function selfAttentionBlock<T>(ops: Ops<T>, x: T, name: string, groups: number, heads: number): T {
  const [, h, w, c] = ops.shape(x);
  const seq = ops.reshape(groupNorm(ops, x, `${name}.norm`, groups), [0, h * w, c]);
  const attended = multiHeadAttention(ops, linear(ops, seq, `${name}.q`), linear(ops, seq, `${name}.k`), linear(ops, seq, `${name}.v`), heads);
  return ops.add(x, ops.reshape(linear(ops, attended, `${name}.out`), [0, h, w, c]));
}

/**
 * Cross-attention from the pixels of an NHWC map to a context sequence [N, L, D]
 * (Rombach et al. 2022, §3.3): x + out(Attn(q(GN(x)), k(ctx), v(ctx))).
 * Parameters: norm, q [C, C], k [D, C], v [D, C], out [C, C].
 */
export function crossAttentionBlock<T>(ops: Ops<T>, x: T, context: T, name: string, groups: number, heads: number): T {
  const [, h, w, c] = ops.shape(x);
  const seq = ops.reshape(groupNorm(ops, x, `${name}.norm`, groups), [0, h * w, c]);
  const attended = multiHeadAttention(ops, linear(ops, seq, `${name}.q`), linear(ops, context, `${name}.k`), linear(ops, context, `${name}.v`), heads);
  return ops.add(x, ops.reshape(linear(ops, attended, `${name}.out`), [0, h, w, c]));
}

/**
 * Pre-LN transformer layer on a sequence [N, L, D] (Xiong et al. 2020):
 * x = x + out(Attn(LN1(x))); x = x + mlp.1(SiLU(mlp.0(LN2(x)))).
 * Parameters: ln1, q, k, v, out, ln2, mlp.0 [D, 4D], mlp.1 [4D, D].
 */
export function transformerLayer<T>(ops: Ops<T>, x: T, name: string, heads: number): T {
  const a = layerNorm(ops, x, `${name}.ln1`);
  const attended = multiHeadAttention(ops, linear(ops, a, `${name}.q`), linear(ops, a, `${name}.k`), linear(ops, a, `${name}.v`), heads);
  const h = ops.add(x, linear(ops, attended, `${name}.out`));
  const m = linear(ops, ops.silu(linear(ops, layerNorm(ops, h, `${name}.ln2`), `${name}.mlp.0`)), `${name}.mlp.1`);
  return ops.add(h, m);
}

/**
 * The learned null condition mixed in by arithmetic only (exports to ONNX as Mul/Sub/Add):
 * cond·c + (1 − cond)·null, with `cond` already shaped to broadcast against c (1 = use the
 * condition, 0 = the null condition). Written this way, cond = 1 gives c exactly.
 */
export function mixWithNull<T>(ops: Ops<T>, c: T, nullValue: T, cond: T): T {
  const notCond = ops.sub(ops.constant(Float32Array.of(1), [1]), cond);
  return ops.add(ops.mul(cond, c), ops.mul(notCond, nullValue));
}
