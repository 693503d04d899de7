/** Shared helpers for the stats tests: the fixture folder and a relative-tolerance comparison. */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { ROOT } from "../helpers/cli.js";

export const FIXTURES = path.join(ROOT, "test", "fixtures", "stats");

export function loadExpected(): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES, "expected.json"), "utf8")) as Record<string, unknown>;
}

/** |actual − expected| ≤ rtol · |expected| (exact equality when expected is 0). */
export function assertClose(actual: number, expected: number, rtol: number, where: string): void {
  const ok = actual === expected || Math.abs(actual - expected) <= rtol * Math.abs(expected);
  assert.ok(ok, `${where}: got ${actual}, expected ${expected} (relative error ${Math.abs(actual - expected) / Math.abs(expected)})`);
}

/**
 * Deep comparison of JSON-like values: same keys (and key order) in objects, same strings,
 * numbers within rtol.
 */
export function assertDeepClose(actual: unknown, expected: unknown, rtol: number, where = "$"): void {
  if (typeof expected === "number") {
    assert.equal(typeof actual, "number", `${where}: expected a number, got ${JSON.stringify(actual)}`);
    assertClose(actual as number, expected, rtol, where);
  } else if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${where}: expected an array`);
    assert.equal(actual.length, expected.length, `${where}: length`);
    expected.forEach((e, i) => assertDeepClose((actual as unknown[])[i], e, rtol, `${where}[${i}]`));
  } else if (expected !== null && typeof expected === "object") {
    assert.ok(actual !== null && typeof actual === "object" && !Array.isArray(actual), `${where}: expected an object`);
    const a = actual as Record<string, unknown>;
    const e = expected as Record<string, unknown>;
    assert.deepEqual(Object.keys(a), Object.keys(e), `${where}: keys`);
    for (const k of Object.keys(e)) assertDeepClose(a[k], e[k], rtol, `${where}.${k}`);
  } else {
    assert.equal(actual, expected, where);
  }
}
