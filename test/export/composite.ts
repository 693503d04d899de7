/**
 * A small network touching every op of the interface, written once against Ops<T>:
 * conv → time embedding → GroupNorm → SiLU → strided conv → self-attention → text
 * cross-attention (gather + LayerNorm) → mean → upsample → conv → concat skip → conv.
 * Mirrored in PyTorch by test/fixtures/export/make_composite.py (keep the two in step).
 */
import type { Ops } from "../../src/nn/ops.js";

export interface CompositeDims {
  res: number;
  cin: number;
  ch: number;
  groups: number;
  tdim: number;
  vocab: number;
  tokens: number;
  cout: number;
}

export function compositeForward<T>(ops: Ops<T>, inputs: Record<string, T>, dims: CompositeDims): T {
  const p = (name: string): T => ops.param(name);
  const x = inputs.x as T;
  const t = inputs.t as T;
  const tokens = inputs.tokens as T;
  const { ch, groups, tdim } = dims;

  const attention = (q: T, k: T, v: T): T => {
    const d = (ops.shape(q)[2] ?? 1) as number;
    return ops.matMul(ops.softmax(ops.scale(ops.matMul(q, k, false, true), 1 / Math.sqrt(d))), v);
  };

  let h = ops.conv2d(x, p("conv_in.weight"), p("conv_in.bias"), 1, [1, 1, 1, 1]);
  const half = tdim / 2;
  const freqs = Float32Array.from({ length: half }, (_, i) => Math.exp((-Math.log(10000) * i) / half));
  const args = ops.mul(ops.reshape(t, [0, 1]), ops.constant(freqs, [1, half]));
  const temb = ops.linear(ops.concat([ops.sin(args), ops.cos(args)], 1), p("time.weight"), p("time.bias"));
  h = ops.add(h, ops.reshape(ops.silu(temb), [0, 1, 1, ch]));
  h = ops.silu(ops.groupNorm(h, groups, p("norm.gamma"), p("norm.beta"), 1e-5));
  const skip = h;

  let d = ops.conv2d(h, p("down.weight"), null, 2, [1, 1, 1, 1]);
  const [, dh, dw] = ops.shape(d) as [number, number, number, number];
  const a = ops.groupNorm(d, groups, p("attn.norm.gamma"), p("attn.norm.beta"), 1e-5);
  const s = ops.reshape(a, [0, dh * dw, ch]);
  const o = ops.linear(attention(ops.linear(s, p("attn.q"), null), ops.linear(s, p("attn.k"), null), ops.linear(s, p("attn.v"), null)), p("attn.out.weight"), p("attn.out.bias"));
  d = ops.add(d, ops.reshape(o, [0, dh, dw, ch]));

  const ctx = ops.layerNorm(ops.gather(p("text.table"), tokens), p("text.ln.gamma"), p("text.ln.beta"), 1e-5);
  const s2 = ops.reshape(d, [0, -1, ch]);
  const o2 = ops.linear(attention(ops.linear(s2, p("cross.q"), null), ops.linear(ctx, p("cross.k"), null), ops.linear(ctx, p("cross.v"), null)), p("cross.out.weight"), p("cross.out.bias"));
  d = ops.add(d, ops.reshape(o2, [0, dh, dw, ch]));
  d = ops.sub(d, ops.mean(d, [1, 2], true));

  const u = ops.conv2d(ops.upsample2x(d), p("up.weight"), p("up.bias"), 1, [1, 1, 1, 1]);
  const y = ops.concat([u, skip], 3);
  return ops.sub(ops.conv2d(ops.silu(y), p("out.weight"), p("out.bias"), 1, [1, 1, 1, 1]), ops.scale(x, 0.5));
}
