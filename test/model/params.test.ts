import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RuntimeFailure } from "../../src/errors.js";
import { checkParams, convSpecs, countParams, initParams, linearSpecs, type ParamSpec } from "../../src/model/params.js";

function moments(a: Float32Array): { mean: number; std: number; min: number; max: number } {
  let s = 0;
  let s2 = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of a) {
    s += v;
    s2 += v * v;
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const mean = s / a.length;
  return { mean, std: Math.sqrt(s2 / a.length - mean * mean), min, max };
}

describe("params", () => {
  const specs: ParamSpec[] = [
    { name: "a.weight", shape: [3, 3, 16, 32], init: "fan_in" },
    { name: "a.bias", shape: [32], init: "zeros" },
    { name: "n.gamma", shape: [32], init: "ones" },
    { name: "e", shape: [100, 64], init: "normal" },
    { name: "e2", shape: [50, 40], init: "normal", std: 0.5 },
  ];

  it("initialises each kind with the documented distribution", () => {
    const p = initParams(specs, 7);
    const w = moments(p.get("a.weight")!.data);
    const bound = 1 / Math.sqrt(3 * 3 * 16); // fan_in of HWIO = kh·kw·in
    assert.ok(w.min >= -bound && w.max <= bound, "fan_in values inside ±1/√fan_in");
    assert.ok(w.max > 0.95 * bound && w.min < -0.95 * bound, "fan_in values fill the interval");
    assert.ok(Math.abs(w.std - bound / Math.sqrt(3)) < 0.03 * bound, `uniform std ${w.std} vs ${bound / Math.sqrt(3)}`);
    assert.ok(p.get("a.bias")!.data.every((v) => v === 0));
    assert.ok(p.get("n.gamma")!.data.every((v) => v === 1));
    const e = moments(p.get("e")!.data);
    assert.ok(Math.abs(e.std - 0.02) < 0.001 && Math.abs(e.mean) < 0.001, `normal std ${e.std}`);
    assert.ok(Math.abs(moments(p.get("e2")!.data).std - 0.5) < 0.02);
    assert.deepEqual(p.get("a.weight")!.shape, [3, 3, 16, 32]);
  });

  it("is deterministic, seed-dependent, and per-parameter (adding one changes no other)", () => {
    const a = initParams(specs, 7);
    const b = initParams(specs, 7);
    const c = initParams(specs, 8);
    const d = initParams([{ name: "new.weight", shape: [4, 4], init: "fan_in" }, ...specs.slice().reverse()], 7);
    for (const s of specs) {
      assert.deepEqual(a.get(s.name)!.data, b.get(s.name)!.data);
      assert.deepEqual(a.get(s.name)!.data, d.get(s.name)!.data, `${s.name} changed when a parameter was added`);
    }
    assert.notDeepEqual(a.get("a.weight")!.data, c.get("a.weight")!.data);
    assert.notDeepEqual(a.get("e")!.data, a.get("e2")!.data.subarray(0, 6400));
  });

  it("counts parameters from specs and from maps", () => {
    const n = 3 * 3 * 16 * 32 + 32 + 32 + 6400 + 2000;
    assert.equal(countParams(specs), n);
    assert.equal(countParams(initParams(specs, 1)), n);
    assert.equal(countParams([...linearSpecs("l", 5, 7), ...convSpecs("c", 3, 2, 4)]), 5 * 7 + 7 + 3 * 3 * 2 * 4 + 4);
  });

  it("rejects duplicate names and mismatched maps with the parameter named", () => {
    assert.throws(() => initParams([specs[0], specs[0]], 1), /"a\.weight" is declared twice/);
    const p = initParams(specs, 1);
    checkParams(specs, p, "ckpt/params.bin");
    const wrong = new Map(p);
    wrong.set("a.bias", { shape: [31], data: new Float32Array(31) });
    assert.throws(() => checkParams(specs, wrong, "ckpt/params.bin"), (e: unknown) => e instanceof RuntimeFailure && /ckpt\/params\.bin: parameter "a\.bias" has shape \[31\]/.test(e.message));
    const missing = new Map(p);
    missing.delete("e");
    assert.throws(() => checkParams(specs, missing, "x"), /parameter "e" is missing/);
    const extra = new Map(p);
    extra.set("zz", { shape: [1], data: new Float32Array(1) });
    assert.throws(() => checkParams(specs, extra, "x"), /unexpected parameter "zz"/);
  });
});
