/**
 * householderR (the R factor FID uses for n > d): RᵀR equals AᵀA summed directly, R is upper
 * triangular, and |R| equals numpy.linalg.qr's R up to row signs (test/fixtures/metrics/make_r_factor.py).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { Rng } from "../../src/engine/rng.js";
import { householderR } from "../../src/metrics/r-factor.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = JSON.parse(fs.readFileSync(path.join(here, "../fixtures/metrics/r-factor.json"), "utf8")) as { a: number[][]; r: number[][] };

const columnsOf = (rows: number[][]): Float64Array[] => rows[0].map((_, j) => Float64Array.from(rows, (row) => row[j]));

function gram(columns: readonly Float64Array[]): number[][] {
  return columns.map((ci) => columns.map((cj) => ci.reduce((s, v, k) => s + v * cj[k], 0)));
}

function checkGram(columns: Float64Array[], tol: number): void {
  const expected = gram(columns);
  const r = householderR(columns.map((c) => c.slice()));
  const d = columns.length;
  const scale = Math.max(...expected.map((row, i) => row[i]));
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      if (i > j) assert.equal(r[i][j], 0, `R[${i}][${j}] below the diagonal`);
      let rtr = 0;
      for (let k = 0; k < d; k++) rtr += r[k][i] * r[k][j];
      assert.ok(Math.abs(rtr - expected[i][j]) <= tol * scale, `(RᵀR)[${i}][${j}] = ${rtr}, AᵀA = ${expected[i][j]}`);
    }
  }
}

test("RᵀR = AᵀA for a random 300 × 24 matrix", () => {
  const rng = new Rng(5, "r-factor");
  checkGram(Array.from({ length: 24 }, () => Float64Array.from({ length: 300 }, () => rng.normal())), 1e-12);
});

test("RᵀR = AᵀA when A is rank-deficient (a zero column, a repeated column, rank 3 of 6)", () => {
  const rng = new Rng(6, "r-factor");
  const basis = Array.from({ length: 3 }, () => Float64Array.from({ length: 40 }, () => rng.normal()));
  const columns = [basis[0], new Float64Array(40), basis[1], basis[0].slice(), basis[2], basis[1].map((v, i) => v - 2 * basis[2][i])];
  checkGram(columns, 1e-12);
});

test("|R| equals numpy.linalg.qr's R up to the sign of each row", () => {
  const r = householderR(columnsOf(fixture.a));
  fixture.r.forEach((row, i) => {
    const sign = Math.sign(row[i]) * Math.sign(r[i][i]) || 1;
    row.forEach((v, j) => assert.ok(Math.abs(sign * r[i][j] - v) <= 1e-12 * Math.abs(fixture.r[0][0]), `R[${i}][${j}] = ${r[i][j]}, numpy ${v}`));
  });
});
