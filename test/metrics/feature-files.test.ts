/** .npy / .csv feature files vs files written by numpy (test/fixtures/metrics/make_feature_files.py). */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { UsageError } from "../../src/errors.js";
import { parseFeatureCsv, readFeatureFile } from "../../src/metrics/feature-files.js";
import { tempDir } from "../helpers/cli.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const npyDir = path.join(here, "../fixtures/metrics/npy");
const fixture = JSON.parse(fs.readFileSync(path.join(here, "../fixtures/metrics/feature-files.json"), "utf8")) as { good: Record<string, number[][]> };

const usage = (pattern: RegExp) => (e: unknown): boolean => {
  assert.ok(e instanceof UsageError, `expected UsageError, got ${String(e)}`);
  assert.match(e.message, pattern);
  return true;
};

for (const [name, expected] of Object.entries(fixture.good)) {
  test(`reads numpy's ${name} exactly`, () => {
    const got = readFeatureFile(path.join(npyDir, name)).map((r) => [...r]);
    assert.deepEqual(got, expected);
  });
}

const npyErrors: [string, RegExp][] = [
  ["fortran.npy", /fortran\.npy: bad \.npy file: array is in Fortran order/],
  ["int64.npy", /int64\.npy: bad \.npy file: dtype '<i8' is not supported/],
  ["one-dim.npy", /one-dim\.npy: bad \.npy file: shape \(6,\) is not 2-D/],
  ["three-dim.npy", /three-dim\.npy: bad \.npy file: shape \(2, 3, 4\) is not 2-D/],
  ["one-row.npy", /one-row\.npy: 1 sample; FID\/KID need at least 2/],
  ["nan-row3.npy", /nan-row3\.npy: row 3, column 2: value is NaN/],
  ["inf-row4.npy", /inf-row4\.npy: row 4, column 1: value is Infinity/],
  ["truncated.npy", /truncated\.npy: bad \.npy file: shape \(4, 3\) needs 96 data bytes but the file has 91/],
  ["not-npy.npy", /not-npy\.npy: bad \.npy file: missing the \\x93NUMPY magic/],
];
for (const [name, pattern] of npyErrors) {
  test(`rejects ${name} with a message naming the file`, () => {
    assert.throws(() => readFeatureFile(path.join(npyDir, name)), usage(pattern));
  });
}

test("CSV: rows of numbers, CRLF and trailing blank lines accepted, exponent notation", () => {
  const rows = parseFeatureCsv("1,2.5,-3\r\n4e-2, +5 ,.5\r\n\r\n", "x.csv").map((r) => [...r]);
  assert.deepEqual(rows, [[1, 2.5, -3], [0.04, 5, 0.5]]);
});

test("CSV errors name the file, row and column", () => {
  assert.throws(() => parseFeatureCsv("a,b\n1,2\n", "h.csv"), usage(/^h\.csv: row 1, column 1: 'a' is not a finite number \(feature CSVs have no header row\)$/));
  assert.throws(() => parseFeatureCsv("1,2\n3,nan\n", "n.csv"), usage(/^n\.csv: row 2, column 2: value is nan/));
  assert.throws(() => parseFeatureCsv("1,2\n3,-Inf\n", "i.csv"), usage(/^i\.csv: row 2, column 2: value is -Inf/));
  assert.throws(() => parseFeatureCsv("1,2\n3,4,5\n", "r.csv"), usage(/^r\.csv: row 2 has 3 values, row 1 has 2$/));
  assert.throws(() => parseFeatureCsv("1,2\n3,\n", "e.csv"), usage(/^e\.csv: row 2, column 2: '' is not a finite number$/));
  assert.throws(() => parseFeatureCsv("1,2\n0x10,1\n", "x.csv"), usage(/'0x10' is not a finite number/));
});

test("readFeatureFile: missing file, wrong extension, one-row CSV", () => {
  const dir = tempDir();
  assert.throws(() => readFeatureFile(path.join(dir, "missing.csv")), usage(/missing\.csv: file not found/));
  assert.throws(() => readFeatureFile(path.join(dir, "x.txt")), usage(/x\.txt: not a feature file/));
  fs.writeFileSync(path.join(dir, "one.csv"), "1,2,3\n");
  assert.throws(() => readFeatureFile(path.join(dir, "one.csv")), usage(/one\.csv: 1 sample/));
});
