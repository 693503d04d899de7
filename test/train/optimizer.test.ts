/**
 * The host AdamW / Adam + L2 of src/train/optimizer.ts against steps recorded from
 * torch.optim.AdamW and torch.optim.Adam (test/fixtures/train/make_adamw.py → adamw.json),
 * the EMA against a hand-worked example, and save/load of the optimizer state (what a
 * checkpoint holds) continuing bit-identically.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { Adam, ADAM_DEFAULTS, globalNorm, updateEma } from "../../src/train/optimizer.js";

interface Step {
  lr: number;
  grads: number[][];
  params: number[][];
  m: number[][];
  v: number[][];
}
interface Case {
  name: string;
  decoupled: boolean;
  beta1: number;
  beta2: number;
  eps: number;
  weight_decay: number;
  shapes: number[][];
  init: number[][];
  steps: Step[];
}

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = JSON.parse(fs.readFileSync(path.join(here, "..", "fixtures", "train", "adamw.json"), "utf8")) as { cases: Case[] };

/**
 * max over elements of |got − want| / scale, scale = max(|want|, floor[i]) (elements that are
 * exactly 0 in torch must be 0 here). `floor` is the magnitude of the terms an element is a sum
 * of: m_t = β1·m + (1 − β1)·g can cancel to far below its terms, and then float32 rounding of
 * the terms (torch rounds per op, we once) is large relative to m_t itself while tiny relative
 * to what was summed. Parameters and v (a sum of positive terms) use |want| alone.
 */
function maxRelErr(got: Float32Array, want: number[], floor?: number[]): number {
  assert.equal(got.length, want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const w = want[i] as number;
    const g = got[i] as number;
    if (w === 0) assert.equal(g, 0, `element ${i}: torch has exactly 0, got ${g}`);
    else worst = Math.max(worst, Math.abs(g - w) / Math.max(Math.abs(w), floor?.[i] ?? 0));
  }
  return worst;
}

for (const c of fixture.cases) {
  test(`${c.name}: ${c.steps.length} steps match torch.optim (${c.decoupled ? "AdamW" : "Adam, L2"}) to 1e-6 relative`, () => {
    const params = c.init.map((p) => Float32Array.from(p));
    const adam = new Adam(
      params.map((p) => p.length),
      { beta1: c.beta1, beta2: c.beta2, eps: c.eps, weightDecay: c.weight_decay, decoupled: c.decoupled },
    );
    let worst = 0;
    c.steps.forEach((s, t) => {
      adam.apply(params, s.grads.map((g) => Float32Array.from(g)), 1, s.lr);
      params.forEach((p, k) => {
        const mPrev = t === 0 ? s.m[k]!.map(() => 0) : c.steps[t - 1]!.m[k]!;
        const mTerms = s.grads[k]!.map((g, i) => c.beta1 * Math.abs(mPrev[i] as number) + (1 - c.beta1) * Math.abs(g));
        const errs = [maxRelErr(p, s.params[k]!), maxRelErr(adam.m[k]!, s.m[k]!, mTerms), maxRelErr(adam.v[k]!, s.v[k]!)];
        for (const [what, e] of [["params", errs[0]], ["m", errs[1]], ["v", errs[2]]] as const) {
          assert.ok(e <= 1e-6, `step ${t + 1}, parameter ${k}: ${what} differ from torch by ${e} relative`);
          worst = Math.max(worst, e);
        }
      });
    });
    assert.equal(adam.t, c.steps.length);
    // the fixture must exercise the update: parameters moved by far more than the tolerance
    const moved = maxRelErr(Float32Array.from(c.init[0]!), c.steps.at(-1)!.params[0]!);
    assert.ok(moved > 1e-4, `parameters barely moved (${moved})`);
    assert.ok(worst > 0 && worst < 1e-6, `worst relative error ${worst}`); // > 0: torch rounds per op, we do not
  });
}

test("the clip factor scales the gradient before the moments (Adam is scale-invariant only without ε)", () => {
  const c = fixture.cases[0]!;
  const s = c.steps[0]!;
  const run = (grads: Float32Array[], scale: number): Float32Array[] => {
    const params = c.init.map((p) => Float32Array.from(p));
    const adam = new Adam(params.map((p) => p.length), { ...ADAM_DEFAULTS, weightDecay: c.weight_decay, decoupled: true });
    adam.apply(params, grads, scale, s.lr);
    return adam.m;
  };
  const half = run(s.grads.map((g) => Float32Array.from(g)), 0.5);
  const pre = run(s.grads.map((g) => Float32Array.from(g, (x) => x * 0.5)), 1);
  half.forEach((m, k) => assert.deepEqual(m, pre[k])); // ×0.5 is exact in binary
});

test("save and load of m, v and t continue bit-identically (what a checkpoint resume does)", () => {
  const c = fixture.cases[0]!;
  const settings = { beta1: c.beta1, beta2: c.beta2, eps: c.eps, weightDecay: c.weight_decay, decoupled: c.decoupled };
  const grads = (t: number): Float32Array[] => c.steps[t]!.grads.map((g) => Float32Array.from(g));
  const straight = c.init.map((p) => Float32Array.from(p));
  const a = new Adam(straight.map((p) => p.length), settings);
  for (let t = 0; t < 4; t++) a.apply(straight, grads(t), 1, c.steps[t]!.lr);

  const first = c.init.map((p) => Float32Array.from(p));
  const b1 = new Adam(first.map((p) => p.length), settings);
  for (let t = 0; t < 2; t++) b1.apply(first, grads(t), 1, c.steps[t]!.lr);
  const resumed = first.map((p) => Float32Array.from(p));
  const b2 = new Adam(resumed.map((p) => p.length), settings);
  b2.load(b1.m.map((m) => m.slice()), b1.v.map((v) => v.slice()), b1.t);
  for (let t = 2; t < 4; t++) b2.apply(resumed, grads(t), 1, c.steps[t]!.lr);
  resumed.forEach((p, k) => assert.deepEqual(p, straight[k]));
  b2.m.forEach((m, k) => assert.deepEqual(m, a.m[k]));
  assert.equal(b2.t, 4);
});

test("EMA: e ← d·e + (1 − d)·θ, rounded to float32 once (hand-worked)", () => {
  const ema = [Float32Array.from([1, -2, 0.5])];
  updateEma(ema, [Float32Array.from([3, 2, 0.5])], 0.9);
  // 0.9·1 + 0.1·3 = 1.2; 0.9·(−2) + 0.1·2 = −1.6; 0.5 stays 0.5
  assert.deepEqual(ema[0], Float32Array.from([1.2, -1.6, 0.5]));
  updateEma(ema, [Float32Array.from([0, 0, 0])], 0.5);
  assert.deepEqual(ema[0], Float32Array.from([Math.fround(1.2) * 0.5, Math.fround(-1.6) * 0.5, 0.25]));
});

test("global norm over several gradients (3-4-12-13)", () => {
  assert.equal(globalNorm([Float32Array.from([3, 4]), Float32Array.from([12])]), 13);
  assert.equal(globalNorm(new Map([["a", Float32Array.from([5])], ["b", Float32Array.from([12])]])), 13);
});

test("mismatched parameter and gradient counts are refused", () => {
  const adam = new Adam([2], { ...ADAM_DEFAULTS, weightDecay: 0, decoupled: true });
  assert.throws(() => adam.apply([new Float32Array(2)], [new Float32Array(3)], 1, 1e-3), /parameter 0 has 2 values/);
  assert.throws(() => adam.apply([new Float32Array(2), new Float32Array(1)], [new Float32Array(2)], 1, 1e-3), /2 parameters and 1 gradients/);
});
