/**
 * `diffx metrics check` (the disturbance ladders of Heusel et al. 2017) through the real CLI at
 * 32 px with small n (an art dataset of 40 pairs, 2 folds: 20 held-out vs 20 training images),
 * for the domain and the pixel extractors: the JSON list, level 0 equal to a direct FID/KID of
 * the two real sets, monotonicity verdicts that follow from the numbers, and a failed ladder
 * reported as failed.
 */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { ROOT, runCli, tempDir } from "../helpers/cli.js";
import * as path from "node:path";
import { loadConfig } from "../../src/config/load.js";
import { openDataset } from "../../src/data/build.js";
import { floorRows } from "../../src/eval/floor.js";
import { planFolds } from "../../src/eval/fold-plan.js";
import { HeldOutLoader } from "../../src/eval/held-out.js";
import { strictlyIncreasing } from "../../src/eval/metrics-check.js";
import { loadExtractor } from "../../src/metrics/extractor.js";
import { fid } from "../../src/metrics/fid.js";
import { kid } from "../../src/metrics/kid.js";
import { LADDERS } from "../../src/metrics/disturb.js";
import { statsSeed } from "../../src/eval/run-eval.js";

const CONFIG = path.join(ROOT, "configs", "ci-tiny.yaml");
const SETS = ["model.resolution=32", "model.attention=[16]", "dataset.image_size=32", "dataset.name=check-32", "dataset.n=40", "eval.folds=2", "eval.samples_per_fold=20"];
const cwd = tempDir("diffx-metrics-check-");
const args = (features: string, json: boolean): string[] => [...(json ? ["--json"] : []), "metrics", "check", CONFIG, "--features", features, ...SETS.flatMap((s) => ["--set", s])];

interface Row {
  disturbance: string;
  level: number;
  fid: number;
  kid: number;
}

function run(features: string): { rows: Row[]; text: string } {
  const j = runCli(args(features, true), { cwd });
  assert.equal(j.code, 0, j.stderr);
  const t = runCli(args(features, false), { cwd });
  assert.equal(t.code, 0, t.stderr);
  return { rows: JSON.parse(j.stdout) as Row[], text: t.stdout };
}

/** Level 0 of every ladder is the two real sets undisturbed: FID/KID computed here directly. */
async function directFloor(features: string): Promise<{ fid: number; kid: number }> {
  const { config } = loadConfig(CONFIG, SETS);
  const ds = openDataset(config.dataset, { cwd });
  const plan = planFolds(ds, 2, config.seed, config.dataset.stratify, "eval.folds");
  const loader = new HeldOutLoader(ds, cwd);
  const ex = await loadExtractor(features);
  try {
    const a = await ex.extract(await loader.images(plan.heldOut[0]!, 32));
    const b = await ex.extract(await loader.images(floorRows(plan.train[0]!, 20, config.seed, 0), 32));
    return { fid: fid(a, b), kid: kid(a, b, { subsets: 100, subsetSize: 1000, seed: statsSeed(config.seed, 0) }).kid };
  } finally {
    await ex.release?.();
  }
}

function checkCommon(rows: Row[], text: string, floor: { fid: number; kid: number }): Map<string, Row[]> {
  assert.equal(rows.length, LADDERS.length * 5);
  for (const r of rows) assert.deepEqual(Object.keys(r), ["disturbance", "level", "fid", "kid"]);
  const by = new Map<string, Row[]>();
  for (const r of rows) by.set(r.disturbance, [...(by.get(r.disturbance) ?? []), r]);
  assert.deepEqual([...by.keys()], LADDERS.map((l) => l.name));
  for (const [name, ladder] of by) {
    assert.deepEqual(ladder.map((r) => r.level), LADDERS.find((l) => l.name === name)!.levels);
    assert.ok(Math.abs(ladder[0]!.fid - floor.fid) <= 1e-9 * floor.fid, `${name} level 0 FID ${ladder[0]!.fid} vs direct ${floor.fid}`);
    assert.ok(Math.abs(ladder[0]!.kid - floor.kid) <= 1e-9 * Math.max(1, Math.abs(floor.kid)), `${name} level 0 KID`);
    // the verdict printed for this ladder follows from its numbers
    const block = text.split("\n\n").find((b) => b.startsWith(`${name} (`));
    assert.ok(block, `${name} block in:\n${text}`);
    const fidOk = strictlyIncreasing(ladder.map((r) => r.fid)), kidOk = strictlyIncreasing(ladder.map((r) => r.kid));
    assert.ok(block.includes(fidOk ? "FID rises monotonically" : "FID does NOT rise monotonically"), block);
    assert.ok(block.includes(kidOk ? "KID rises monotonically" : "KID does NOT rise monotonically"), block);
  }
  return by;
}

test("domain features at 32 px, 20 vs 20: every ladder rises monotonically in FID, and the output says so", async () => {
  const { rows, text } = run("domain");
  const by = checkCommon(rows, text, await directFloor("domain"));
  for (const [name, ladder] of by) assert.ok(strictlyIncreasing(ladder.map((r) => r.fid)), `${name}: ${ladder.map((r) => r.fid.toFixed(2)).join(" ")}`);
  // heavy noise and a fully contaminated set are far above the real-vs-real floor
  assert.ok(by.get("gaussian-noise")!.at(-1)!.fid > 1.5 * by.get("gaussian-noise")![0]!.fid);
  assert.ok(by.get("contamination")!.at(-1)!.fid > 1.5 * by.get("contamination")![0]!.fid);
});

test("pixel features at 32 px fail the blur ladder, and the output reports the failed ladders", async () => {
  const { rows, text } = run("pixels");
  const by = checkCommon(rows, text, await directFloor("pixels"));
  assert.ok(!strictlyIncreasing(by.get("gaussian-blur")!.map((r) => r.fid)), "8×8 pixel features barely respond to blur");
  const failed = [...by].filter(([, l]) => !strictlyIncreasing(l.map((r) => r.fid)) || !strictlyIncreasing(l.map((r) => r.kid))).map(([n]) => n);
  assert.ok(failed.length > 0);
  const line = text.split("\n").find((l) => l.startsWith("FAILED ladders:"));
  assert.ok(line, text);
  for (const n of failed) assert.ok(line.includes(n), `${n} named in: ${line}`);
});

test("--only with an unknown ladder: exit 2 naming it", () => {
  const r = runCli(["metrics", "check", CONFIG, "--only", "noise"], { cwd });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--only: unknown ladder 'noise'/);
});
