/** FID, KID and bootstrap intervals vs numpy/scipy references (test/fixtures/metrics/make_fid.py). */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { UsageError } from "../../src/errors.js";
import { bootstrapIntervals, independentStrata, quantile } from "../../src/metrics/bootstrap.js";
import { compareFeatures } from "../../src/metrics/compare.js";
import { fid, fidTerms } from "../../src/metrics/fid.js";
import { FidResampler } from "../../src/metrics/fid-resample.js";
import { Rng } from "../../src/engine/rng.js";
import { silentProgress } from "../../src/engine/progress.js";
import { kid, mmd2Unbiased, PolyKernel } from "../../src/metrics/kid.js";

const here = path.dirname(fileURLToPath(import.meta.url));
interface Case { name: string; reference: string; a: number[][]; b: number[][]; fid: number; fid_sqrtm_for_information: number; kid_full_set: number }
const fixture = JSON.parse(fs.readFileSync(path.join(here, "../fixtures/metrics/fid.json"), "utf8")) as {
  cases: Case[];
  same: Record<string, { x: number[][]; fid_sqrtm_for_information: number }>;
  percentiles: { values: number[]; q: number[]; expected: number[] };
};

const rows = (m: number[][]): Float64Array[] => m.map((r) => Float64Array.from(r));
const relErr = (x: number, ref: number): number => Math.abs(x - ref) / Math.abs(ref);

for (const c of fixture.cases) {
  test(`FID ${c.name} (n_a ${c.a.length}, n_b ${c.b.length}, d ${c.a[0].length}) matches ${c.reference} to 1e-9 relative`, () => {
    const value = fid(rows(c.a), rows(c.b));
    assert.ok(relErr(value, c.fid) <= 1e-9, `fid ${value} vs reference ${c.fid} (rel ${relErr(value, c.fid)})`);
    // symmetric in its arguments
    assert.ok(relErr(fid(rows(c.b), rows(c.a)), c.fid) <= 1e-9);
  });

  test(`KID ${c.name}: one whole-set subset equals numpy's unbiased MMD² to 1e-9`, () => {
    const r = kid(rows(c.a), rows(c.b), { subsets: 1, subsetSize: Math.max(c.a.length, c.b.length) });
    assert.ok(relErr(r.kid, c.kid_full_set) <= 1e-9, `kid ${r.kid} vs ${c.kid_full_set}`);
    assert.equal(r.kid_std, 0);
    assert.deepEqual([r.subsets, r.subsetSizeA, r.subsetSizeB], [1, c.a.length, c.b.length]);
  });
}

test("rank-deficient case: sqrtm would have failed the tolerance, the exact value does not", () => {
  const c = fixture.cases.find((x) => x.name === "rank-deficient");
  assert.ok(c);
  assert.ok(relErr(c.fid_sqrtm_for_information, c.fid) > 1e-8, "the fixture documents why sqrtm is not the reference");
  assert.ok(relErr(fid(rows(c.a), rows(c.b)), c.fid) <= 1e-9);
});

for (const [name, s] of Object.entries(fixture.same)) {
  test(`FID(X, X) = 0 within 1e-9 (${name}, n ${s.x.length}, d ${s.x[0].length})`, () => {
    const x = rows(s.x);
    const t = fidTerms(x, x);
    assert.ok(Math.abs(t.fid) <= 1e-9, `FID(X, X) = ${t.fid} (sqrtm gave ${s.fid_sqrtm_for_information})`);
    assert.ok(t.traceA > 1, "the test uses a non-trivial covariance");
  });
}

test("FID hand-worked in 1-D: a = {0, 2}, b = {1, 5} gives 4 + 2 + 8 − 2·√16 = 6", () => {
  assert.ok(Math.abs(fid(rows([[0], [2]]), rows([[1], [5]])) - 6) < 1e-12);
});

test("KID hand-worked in 1-D: a = {0, 1}, b = {2, 3} gives 1 + 343 − 46.5 = 297.5", () => {
  const r = kid(rows([[0], [1]]), rows([[2], [3]]));
  assert.ok(Math.abs(r.kid - 297.5) < 1e-9, String(r.kid));
});

test("KID over random subsets: reproducible by seed, sizes capped per side, std over subsets", () => {
  const c = fixture.cases[1]; // 120 vs 90, d 16
  const a = rows(c.a), b = rows(c.b);
  const r1 = kid(a, b, { subsets: 20, subsetSize: 100, seed: 3 });
  const r2 = kid(a, b, { subsets: 20, subsetSize: 100, seed: 3 });
  const r3 = kid(a, b, { subsets: 20, subsetSize: 100, seed: 4 });
  assert.deepEqual(r1, r2);
  assert.notEqual(r1.kid, r3.kid);
  assert.deepEqual([r1.subsets, r1.subsetSizeA, r1.subsetSizeB], [20, 100, 90]);
  assert.ok(r1.kid_std > 0);
  // every subset is an unbiased estimate of the same MMD²: the mean is near the full-set value
  assert.ok(Math.abs(r1.kid - c.kid_full_set) < 4 * r1.kid_std + 1e-12, `${r1.kid} vs ${c.kid_full_set} ± ${r1.kid_std}`);
});

test("mmd2Unbiased on explicit (distinct) index lists equals kid on the same rows", () => {
  const c = fixture.cases[0];
  const a = rows(c.a), b = rows(c.b);
  const kernel = new PolyKernel(a, b);
  const idxA = [3, 1, 4, 15, 5, 9, 2, 6];
  const idxB = [2, 7, 1, 8, 28, 18];
  const direct = kid(idxA.map((i) => a[i]), idxB.map((i) => b[i]), { subsets: 1, subsetSize: 100 }).kid;
  assert.ok(relErr(mmd2Unbiased(kernel, idxA, idxB), direct) < 1e-12);
});

test("mmd2Unbiased never pairs a sample with itself: a = {0, 0, 1} (repeat), b = {2, 3} gives 1 + 343 − 2·95/6", () => {
  const kernel = new PolyKernel(rows([[0], [1]]), rows([[2], [3]]));
  assert.ok(Math.abs(mmd2Unbiased(kernel, [0, 0, 1], [0, 1]) - (344 - 190 / 6)) < 1e-9);
});

test("FidResampler (Gram route and direct route) equals fid() on the resampled rows", () => {
  const r = new Rng(5, "test");
  const wide = { name: "wide", a: Array.from({ length: 12 }, () => Array.from({ length: 256 }, () => r.normal() + 3)), b: Array.from({ length: 40 }, () => Array.from({ length: 256 }, () => 1.1 * r.normal() + 3.2)) };
  for (const c of [...fixture.cases, wide]) {
    const a = rows(c.a), b = rows(c.b);
    const resampler = new FidResampler(a, b);
    const id = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
    assert.ok(relErr(resampler.fid(id(a.length), id(b.length)), fid(a, b)) < 1e-9, c.name);
    for (let t = 0; t < 3; t++) {
      const ia = a.map(() => r.int(a.length)), ib = b.map(() => r.int(b.length));
      const direct = fid(ia.map((i) => a[i]), ib.map((i) => b[i]));
      assert.ok(relErr(resampler.fid(ia, ib), direct) < 1e-9, `${c.name}: ${resampler.fid(ia, ib)} vs ${direct}`);
    }
  }
});

test("quantile matches numpy.percentile (linear)", () => {
  const p = fixture.percentiles;
  p.q.forEach((q, i) => assert.ok(Math.abs(quantile(p.values, q / 100) - p.expected[i]) < 1e-12));
});

test("bootstrap: per-resample seeded, deterministic, interval brackets the estimate", () => {
  const c = fixture.cases[0];
  const a = rows(c.a), b = rows(c.b);
  const r1 = compareFeatures(a, b, { bootstrap: { resamples: 200, seed: 1 } });
  const r2 = compareFeatures(a, b, { bootstrap: { resamples: 200, seed: 1 } });
  assert.deepEqual(r1, r2);
  assert.ok(r1.fid_ci && r1.kid_ci);
  assert.ok(r1.fid_ci[0] < r1.fid && r1.fid < r1.fid_ci[1], `${r1.fid} in ${r1.fid_ci}`);
  assert.ok(r1.kid_ci[0] < r1.kid && r1.kid < r1.kid_ci[1], `${r1.kid} in ${r1.kid_ci}`);
  assert.equal(r1.ci_level, 0.95);
  // resample r's indices do not depend on how many resamples run
  const seen10: number[][] = [];
  bootstrapIntervals(independentStrata(5, 4), (ia, ib) => (seen10.push([...ia, ...ib]), [ia[0]! + ib[0]!]), { resamples: 10, seed: 9 });
  const seen3: number[][] = [];
  bootstrapIntervals(independentStrata(5, 4), (ia, ib) => (seen3.push([...ia, ...ib]), [ia[0]! + ib[0]!]), { resamples: 3, seed: 9 });
  // call 0 is the full sets; then the resamples in order, then the jackknife
  assert.deepEqual(seen3.slice(0, 4), seen10.slice(0, 4));
});

test("small-sample warnings: rank-deficient and whole-set KID are reported, full-rank is not", () => {
  const rd = fixture.cases.find((x) => x.name === "rank-deficient");
  const fr = fixture.cases.find((x) => x.name === "full-rank");
  assert.ok(rd && fr);
  const w = compareFeatures(rows(rd.a), rows(rd.b)).warnings;
  assert.ok(w.some((s) => s.includes("n_a = 12 and n_b = 15 below the feature dimension 64")), w.join("\n"));
  assert.ok(w.some((s) => s.includes("kid_std is 0")));
  const w2 = compareFeatures(rows(fr.a), rows(fr.b), { kid: { subsetSize: 20 } }).warnings;
  assert.deepEqual(w2, []);
});

test("bad feature matrices: UsageError naming the set and the row", () => {
  const good = rows([[1, 2], [3, 4], [5, 7]]);
  assert.throws(() => fid(good, rows([[1, 2, 3], [4, 5, 6]])), (e: unknown) => e instanceof UsageError && /2 features.*3|3 features.*2/.test(e.message));
  assert.throws(() => fid(good, rows([[1, 2]])), (e: unknown) => e instanceof UsageError && /1 sample/.test(e.message));
  assert.throws(
    () => compareFeatures(good, rows([[1, 2], [3, 4], [Number.NaN, 1]]), { labels: ["real", "generated"] }),
    (e: unknown) => e instanceof UsageError && e.message.startsWith("generated: row 3, column 1"),
  );
});

test("bootstrap: a warning with the expected time before resamples that each recompute FID (large sets), none where they are cheap (Gram route)", () => {
  const rng = new Rng(5, "slow-bootstrap");
  const set = (n: number, d: number, shift: number): Float64Array[] => Array.from({ length: n }, () => Float64Array.from(rng.normals(d), (v) => v + shift));
  const order: string[] = [];
  const progress = { ...silentProgress, start: (label: string) => order.push(`start ${label}`), warn: (m: string) => order.push(`warn ${m}`) };
  // 40 + 30 rows of 4 features: more rows than features, so every resample is a full FID
  const warned = (): string[] => order.filter((o) => o.startsWith("warn bootstrap:"));
  compareFeatures(set(40, 4, 0), set(30, 4, 0.5), { bootstrap: { resamples: 7, seed: 1, warnAfterSeconds: 0 }, progress });
  assert.equal(warned().length, 1, order.join(" | "));
  assert.match(warned()[0], /each of the 7 resamples recomputes FID on 40 \+ 30 rows of 4 features .* ask for fewer resamples/);
  assert.ok(order[0].startsWith("warn bootstrap:"), `warned before the resamples started: ${order.join(" | ")}`);
  // the default limit (300 s) is far above 7 resamples of this size
  order.length = 0;
  compareFeatures(set(40, 4, 0), set(30, 4, 0.5), { bootstrap: { resamples: 7, seed: 1 }, progress });
  assert.deepEqual(warned(), []);
  // 6 + 5 rows of 16 features: the Gram route, each resample O(n²), no warning even at limit 0
  compareFeatures(set(6, 16, 0), set(5, 16, 0.5), { bootstrap: { resamples: 7, seed: 1, warnAfterSeconds: 0 }, progress });
  assert.deepEqual(warned(), []);
});
