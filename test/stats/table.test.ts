/** The CSV table parser and the fold × variant completeness checks. */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { UsageError } from "../../src/errors.js";
import { analyse } from "../../src/stats/analyse.js";
import { parseTableCsv, toFoldMatrix } from "../../src/stats/table.js";

const F = "t.csv";
const matrix = (text: string) => toFoldMatrix(parseTableCsv(text, F), F);

function throwsUsage(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof UsageError, `expected UsageError, got ${String(err)}`);
    assert.match(err.message, pattern);
    return true;
  });
}

test("parses extra columns, any column order, quotes, BOM, CRLF and blank lines", () => {
  const text = '\uFEFFValue, Variant ,note,fold\r\n1.5,"ddim, 10",x,1\r\n\r\n2.5,dpm,"say ""hi""",1\r\n-3e-1,"ddim, 10",,2\r\n.5,dpm,,2\r\n';
  const m = matrix(text);
  assert.deepEqual(m, { folds: ["1", "2"], variants: ["ddim, 10", "dpm"], values: [[1.5, 2.5], [-0.3, 0.5]] });
  assert.equal(parseTableCsv(text, F)[2]!.line, 5);
});

test("missing columns name the file, the line and the columns", () => {
  throwsUsage(() => parseTableCsv("fold,method,score\n1,a,2\n", F), /^t\.csv line 1: .*lacks column\(s\) variant, value/);
  throwsUsage(() => parseTableCsv("\n\n", F), /^t\.csv: the table is empty/);
});

test("a non-numeric value names the line, fold and variant", () => {
  for (const bad of ["abc", "", "NaN", "inf", "1,5", "0x10", "1e", "1.2.3"]) {
    const cell = bad.includes(",") ? `"${bad}"` : bad;
    throwsUsage(() => parseTableCsv(`fold,variant,value\n1,a,1\n1,b,${cell}\n`, F), /^t\.csv line 3: value .* \(fold 1, variant b\) is not a number$/);
  }
  throwsUsage(() => parseTableCsv("fold,variant,value\n1,a,1e999\n", F), /^t\.csv line 2: value 1e999 is out of range/);
});

test("ragged rows, empty keys and bad quotes name the line", () => {
  throwsUsage(() => parseTableCsv("fold,variant,value\n1,a\n", F), /^t\.csv line 2: 2 cell\(s\), but the header has 3/);
  throwsUsage(() => parseTableCsv("fold,variant,value\n,a,1\n", F), /^t\.csv line 2: the fold cell is empty/);
  throwsUsage(() => parseTableCsv("fold,variant,value\n1, ,1\n", F), /^t\.csv line 2: the variant cell is empty/);
  throwsUsage(() => parseTableCsv('fold,variant,value\n1,"a,1\n', F), /^t\.csv line 2: unterminated quote/);
});

test("a missing cell names the fold and the variant", () => {
  throwsUsage(() => matrix("fold,variant,value\n1,a,1\n1,b,2\n2,a,3\n3,a,1\n3,b,1\n"), /^t\.csv: missing cell: no value for fold 2, variant b/);
});

test("a duplicate cell names both lines", () => {
  throwsUsage(() => matrix("fold,variant,value\n1,a,1\n1,b,2\n2,a,3\n1,b,4\n"), /^t\.csv line 5: duplicate cell for fold 1, variant b \(first given on line 3\)/);
});

test("fewer than 2 variants or 2 folds", () => {
  throwsUsage(() => matrix("fold,variant,value\n1,a,1\n2,a,2\n"), /^t\.csv: needs at least 2 variants to compare, found 1 \(a\)/);
  throwsUsage(() => matrix("fold,variant,value\n"), /^t\.csv: needs at least 2 variants to compare, found 0$/);
  throwsUsage(() => matrix("fold,variant,value\n1,a,1\n1,b,2\n"), /^t\.csv: needs at least 2 folds, found 1 \(1\)/);
});

test("in-memory rows get the same checks, named by the source", () => {
  throwsUsage(() => analyse([{ fold: 1, variant: "a", value: 1 }, { fold: 1, variant: "b", value: Number.NaN }], "eval results"), /^eval results: value for fold 1, variant b is not a finite number/);
  throwsUsage(() => analyse([{ fold: 1, variant: "a", value: 1 }, { fold: 1, variant: "a", value: 2 }]), /^stats table: duplicate cell for fold 1, variant a$/);
});

test("a variant called __proto__ is an ordinary summary key", () => {
  const r = analyse([
    { fold: 1, variant: "__proto__", value: 1 }, { fold: 1, variant: "b", value: 2 },
    { fold: 2, variant: "__proto__", value: 2 }, { fold: 2, variant: "b", value: 4 },
    { fold: 3, variant: "__proto__", value: 4 }, { fold: 3, variant: "b", value: 5 },
  ]);
  assert.deepEqual(Object.keys(r.summary), ["__proto__", "b"]);
  assert.equal(JSON.parse(JSON.stringify(r)).summary.__proto__.mean, 7 / 3);
});
