/**
 * BCa bootstrap by the exchangeable unit (src/metrics/bootstrap.ts) against scipy 1.10's own BCa
 * code (scipy.stats._resampling._bca_interval + np.percentile, as scipy.stats.bootstrap(method=
 * "BCa") runs it) on a fixed resample set, recorded by test/fixtures/metrics/make_bootstrap.py:
 * the same resamples give the same FID/KID replicates (numpy), and the same z0, acceleration,
 * quantile levels and interval.
 */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { bcaInterval, bootstrapIntervals, gather, independentStrata, jackknife, pairedUnits, type Unit } from "../../src/metrics/bootstrap.js";
import { compareFeatures } from "../../src/metrics/compare.js";
import { FidResampler } from "../../src/metrics/fid-resample.js";
import { mmd2Unbiased, PolyKernel } from "../../src/metrics/kid.js";
import { ROOT } from "../helpers/cli.js";

interface Bca {
  estimate: number;
  replicates: number[];
  z0: number;
  acceleration: number;
  alphas: [number, number];
  below: number;
  interval: [number, number];
}
interface Fixture {
  a: number[][];
  b: number[][];
  paired: { resamples: number[][]; fid: Bca; kid: Bca };
  independent: { resamples: [number[], number[]][]; fid: Bca; kid: Bca };
}

const fx = JSON.parse(fs.readFileSync(path.join(ROOT, "test", "fixtures", "metrics", "bootstrap.json"), "utf8")) as Fixture;
const a = fx.a.map((r) => Float64Array.from(r));
const b = fx.b.map((r) => Float64Array.from(r));
const resampler = new FidResampler(a, b);
const kernel = new PolyKernel(a, b);
const stats = (ia: number[], ib: number[]): number[] => [resampler.fid(ia, ib), mmd2Unbiased(kernel, ia, ib)];

function close(actual: number, expected: number, tol: number, where: string): void {
  assert.ok(Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)), `${where}: ${actual} vs ${expected}`);
}

function check(name: string, strata: Unit[][], drawn: [number[], number[]][], ref: { fid: Bca; kid: Bca }): void {
  const reps = drawn.map(([ia, ib]) => stats(ia, ib));
  const jack = jackknife(strata, stats, 2);
  (["fid", "kid"] as const).forEach((m, k) => {
    const r = ref[m];
    reps.forEach((v, i) => close(v[k]!, r.replicates[i]!, 1e-9, `${name} ${m} replicate ${i}`));
    const [fa, fb] = gather(strata.flat());
    close(stats(fa, fb)[k]!, r.estimate, 1e-10, `${name} ${m} estimate`);
    const out = bcaInterval(r.estimate, r.replicates, jack[k]!, 0.95);
    assert.equal(out.detail.method, "BCa");
    close(out.detail.below, r.below, 1e-15, `${name} ${m} p̂`);
    close(out.detail.z0, r.z0, 1e-12, `${name} ${m} z0`);
    close(out.detail.acceleration, r.acceleration, 1e-9, `${name} ${m} acceleration`);
    close(out.detail.alphas[0], r.alphas[0], 1e-9, `${name} ${m} α1`);
    close(out.detail.alphas[1], r.alphas[1], 1e-9, `${name} ${m} α2`);
    close(out.interval[0], r.interval[0], 1e-9, `${name} ${m} lower`);
    close(out.interval[1], r.interval[1], 1e-9, `${name} ${m} upper`);
    assert.ok(out.interval[0] <= r.estimate && r.estimate <= out.interval[1]);
  });
}

test("paired units (held-out pair + its generated images): BCa equals scipy's on the same resamples", () => {
  const strata = pairedUnits(a.length, b.length);
  assert.deepEqual(strata[0]!.map((u) => u.b), [[0, 6, 12], [1, 7, 13], [2, 8], [3, 9], [4, 10], [5, 11]]);
  const drawn = fx.paired.resamples.map((r) => gather(r.map((u) => strata[0]![u]!)));
  check("paired", strata, drawn, fx.paired);
});

test("two independent strata (diffx fid's two-sample bootstrap): BCa equals scipy's multi-sample BCa", () => {
  check("independent", independentStrata(a.length, b.length), fx.independent.resamples, fx.independent);
});

test("bootstrapIntervals by unit: deterministic per seed, estimate inside, resamples keep a unit's rows together", () => {
  const strata = pairedUnits(a.length, b.length);
  const seen: [number[], number[]][] = [];
  const run = (): ReturnType<typeof bootstrapIntervals> =>
    bootstrapIntervals(strata, (ia, ib) => (seen.push([ia, ib]), stats(ia, ib)), { resamples: 100, seed: 3 });
  const r1 = run();
  const r2 = run();
  assert.deepEqual(r1, r2);
  for (const r of r1) assert.ok(r.interval[0] <= r.estimate && r.estimate <= r.interval[1], JSON.stringify(r.interval));
  // every resample: generated row j appears exactly as often as real row j mod 6
  for (const [ia, ib] of seen.slice(1, 101)) {
    const count = (xs: number[], v: number): number => xs.filter((x) => x === v).length;
    for (let j = 0; j < b.length; j++) assert.equal(count(ib, j), count(ia, j % a.length));
  }
});

test("BCa undefined (every replicate above the estimate): the median-shifted percentile interval, said so", () => {
  const out = bcaInterval(1, [2, 3, 4, 5, 6], [[1, 2, 3]], 0.95);
  assert.equal(out.detail.method, "median-bias-shifted percentile");
  assert.match(out.detail.note ?? "", /all 5 replicates lie above/);
  assert.ok(out.interval[0] <= 1 && 1 <= out.interval[1]);
});

test("compareFeatures with paired strata reports the unit and BCa details", () => {
  const r = compareFeatures(a, b, { bootstrap: { resamples: 50, seed: 1, strata: pairedUnits(a.length, b.length), unit: "held-out pair + its generated samples" } });
  assert.equal(r.ci_detail?.unit, "held-out pair + its generated samples");
  assert.deepEqual(r.ci_detail?.units, [6]);
  assert.ok(r.fid_ci && r.fid_ci[0] <= r.fid && r.fid <= r.fid_ci[1]);
  assert.ok(r.kid_ci && r.kid_ci[0] <= r.kid && r.kid <= r.kid_ci[1]);
});
