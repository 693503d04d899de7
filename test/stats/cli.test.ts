/** `diffx stats` through the real CLI (compiled dist/): JSON keys, human output, error exits. */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { runCli, tempDir } from "../helpers/cli.js";
import { FIXTURES, assertDeepClose, loadExpected } from "./helpers.js";

const dir = tempDir("diffx-stats-");
function table(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

test("--json prints exactly the documented keys, and the reference numbers", () => {
  const file = path.join(FIXTURES, "friedman_ties_10x4.csv");
  const r = runCli(["stats", file, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.deepEqual(Object.keys(out), ["summary", "rm_anova", "friedman", "paired", "posthoc", "warnings"]);
  const summary = out["summary"] as Record<string, Record<string, unknown>>;
  assert.deepEqual(Object.keys(summary), ["a", "b", "c", "d"]);
  for (const s of Object.values(summary)) assert.deepEqual(Object.keys(s), ["n", "mean", "sd", "ci95"]);
  assert.deepEqual(Object.keys(out["rm_anova"] as object), ["F", "df1", "df2", "p", "epsilon_gg", "p_gg", "partial_eta2", "generalized_eta2"]);
  assert.deepEqual(Object.keys(out["friedman"] as object), ["chi2", "df", "p", "p_method", "p_chi2", "exact"]);
  assert.equal(out["paired"], null);
  const posthoc = out["posthoc"] as Record<string, unknown>[];
  assert.equal(posthoc.length, 6);
  for (const p of posthoc) assert.deepEqual(Object.keys(p), ["a", "b", "t", "df", "p", "p_holm", "d_z"]);
  const { warnings, ...numbers } = out;
  assert.deepEqual(warnings, [], "an ordinary table has nothing to warn about");
  assertDeepClose(numbers, loadExpected()["friedman_ties_10x4"], 1e-9);
});

test("the global --json may come before the command", () => {
  const r = runCli(["--json", "stats", path.join(FIXTURES, "two_variants_5x2.csv")]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.deepEqual(Object.keys(out), ["summary", "rm_anova", "friedman", "paired", "posthoc", "warnings"]);
  assert.deepEqual(Object.keys(out["paired"] as object), ["a", "b", "sign_test", "wilcoxon"]);
});

test("human output shows the summary and every test, the Greenhouse–Geisser p first, no one-way ANOVA", () => {
  const r = runCli(["stats", path.join(FIXTURES, "rm_vs_oneway_5x3.csv")]);
  assert.equal(r.code, 0, r.stderr);
  for (const s of ["5 folds × 3 variants", "ddpm-50", "95% CI", "Repeated-measures ANOVA", "Greenhouse–Geisser", "generalized η²", "Friedman", "exact p = 0.0008", "Holm", "F(1.2669, 5.0674) = 53.289", "uncorrected: F(2, 8)"]) {
    assert.ok(r.stdout.includes(s), `missing ${JSON.stringify(s)} in:\n${r.stdout}`);
  }
  assert.ok(!r.stdout.includes("One-way"), r.stdout);
});

test("human output for two variants shows the exact sign and Wilcoxon tests", () => {
  const r = runCli(["stats", path.join(FIXTURES, "all_wins_5x2.csv")]);
  assert.equal(r.code, 0, r.stderr);
  for (const s of ["sign test: 0 wins, 5 losses, 0 ties, p = 0.0625", "Wilcoxon signed-rank: W = 0", "exact p = 0.0625"]) {
    assert.ok(r.stdout.includes(s), `missing ${JSON.stringify(s)} in:\n${r.stdout}`);
  }
});

const errorCases: { name: string; text: string | null; message: RegExp }[] = [
  { name: "missing-columns.csv", text: "fold,method,value\n1,a,1\n", message: /missing-columns\.csv line 1: .*lacks column\(s\) variant/ },
  { name: "non-numeric.csv", text: "fold,variant,value\n1,a,1\n1,b,2\n2,a,oops\n2,b,3\n", message: /non-numeric\.csv line 4: value "oops" \(fold 2, variant a\) is not a number/ },
  { name: "missing-cell.csv", text: "fold,variant,value\n1,a,1\n1,b,2\n2,a,3\n", message: /missing-cell\.csv: missing cell: no value for fold 2, variant b/ },
  { name: "duplicate.csv", text: "fold,variant,value\n1,a,1\n1,b,2\n2,a,3\n2,b,3\n2,a,9\n", message: /duplicate\.csv line 6: duplicate cell for fold 2, variant a \(first given on line 4\)/ },
  { name: "one-variant.csv", text: "fold,variant,value\n1,a,1\n2,a,2\n", message: /one-variant\.csv: needs at least 2 variants/ },
  { name: "one-fold.csv", text: "fold,variant,value\n1,a,1\n1,b,2\n", message: /one-fold\.csv: needs at least 2 folds/ },
  { name: "does-not-exist.csv", text: null, message: /does-not-exist\.csv: cannot read the table \(ENOENT\)/ },
];

for (const c of errorCases) {
  test(`error: ${c.name} exits 2 with one clear message and no stack trace`, () => {
    const file = c.text === null ? path.join(dir, c.name) : table(c.name, c.text);
    const r = runCli(["stats", file, "--json"]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^diffx: /);
    assert.match(r.stderr, c.message);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });
}
