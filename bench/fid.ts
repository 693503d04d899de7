/**
 * FID's cost at the sizes researchers use (pytorch-fid's 2,048-d Inception features of
 * thousands of images): diffx's exact FID (src/metrics/fid.ts: R factors by Householder, then
 * the singular values of R_a R_bᵀ) beside scipy's path as pytorch-fid takes it (np.cov, then
 * scipy.linalg.sqrtm of Σa Σb), on the same seeded features. Seconds for each and both values.
 *
 *   node --import tsx bench/fid.ts [--n 10000] [--d 2048]
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { pathToFileURL } from "node:url";
import { Rng } from "../src/engine/rng.js";
import { fid } from "../src/metrics/fid.js";

export interface FidBenchRow {
  n: number;
  d: number;
  diffx_s: number;
  diffx_fid: number;
  scipy_s: number | null;
  scipy_fid: number | null;
  note?: string;
}

const PYTHON = "/usr/bin/python3";
const SCIPY = `
import sys, time, numpy as np, scipy.linalg
n, d, f = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
x = np.fromfile(f, dtype=np.float64).reshape(2, n, d)
t = time.time()
mu = [x[i].mean(0) for i in range(2)]; s = [np.cov(x[i], rowvar=False) for i in range(2)]
covmean, _ = scipy.linalg.sqrtm(s[0].dot(s[1]), disp=False)
v = ((mu[0] - mu[1]) ** 2).sum() + np.trace(s[0]) + np.trace(s[1]) - 2 * np.trace(covmean.real)
print(time.time() - t, v)
`;

/** Two seeded feature sets (rectified Gaussians with a shifted mean, like ReLU features). */
function features(n: number, d: number, stream: string, shift: number): Float64Array[] {
  const rng = new Rng(7, stream);
  return Array.from({ length: n }, () => Float64Array.from({ length: d }, (_, j) => Math.max(0, rng.normal() + (j % 5 === 0 ? shift : 0.3))));
}

export function benchFid(o: { n?: number; d?: number; log?: (s: string) => void } = {}): FidBenchRow {
  const n = o.n ?? 10000;
  const d = o.d ?? 2048;
  const log = o.log ?? console.log;
  const a = features(n, d, "fid-bench-a", 0);
  const b = features(n, d, "fid-bench-b", 0.2);
  const t0 = performance.now();
  const value = fid(a, b);
  const row: FidBenchRow = { n, d, diffx_s: (performance.now() - t0) / 1000, diffx_fid: value, scipy_s: null, scipy_fid: null };
  log(`FID of ${n} × ${d} features: diffx ${row.diffx_s.toFixed(1)} s (${value.toFixed(6)})`);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "diffx-fid-bench-")), "features.f64");
  const all = new Float64Array(2 * n * d);
  [...a, ...b].forEach((r, i) => all.set(r, i * d));
  fs.writeFileSync(file, all);
  const py = spawnSync(PYTHON, ["-c", SCIPY, String(n), String(d), file], { encoding: "utf8" });
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
  if (py.status === 0) {
    const [s, v] = py.stdout.trim().split(/\s+/).map(Number);
    Object.assign(row, { scipy_s: s, scipy_fid: v });
    log(`  scipy (np.cov + sqrtm, as pytorch-fid): ${s.toFixed(1)} s (${v.toFixed(6)})`);
  } else {
    row.note = `scipy reference not run (${PYTHON} with numpy/scipy: ${(py.stderr || py.error?.message || "").trim().split("\n").pop()})`;
    log(`  ${row.note}`);
  }
  return row;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const arg = (name: string, fallback: number): number => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? Number(process.argv[i + 1]) : fallback;
  };
  console.log(JSON.stringify(benchFid({ n: arg("n", 10000), d: arg("d", 2048) })));
}
