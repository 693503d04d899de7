/**
 * engine.gradients tfjs on wasm: a step that cannot fit in tfjs-backend-wasm's 4 GiB heap (where
 * it would spin in malloc) is refused up front with the estimate; steps that do fit (the bench
 * network at batch 16 and 32, whose heap was measured at 0.6 and 1.1 GiB) are not.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { loadConfig } from "../../src/config/load.js";
import { tfjsStepHeap, tfjsWasmHeapRefusal, WASM_HEAP_MAX_BYTES } from "../../src/train/wasm-heap.js";
import { ROOT, runCli, tempDir } from "../helpers/cli.js";

const config = (name: string) => loadConfig(path.join(ROOT, "configs", name)).config;

test("the bench network fits at batch 16 and 32; the estimate is within 2× of the heap measured for it", () => {
  const bench = config("bench.yaml");
  for (const batch of [16, 32]) assert.equal(tfjsWasmHeapRefusal(bench, batch, 256, "bench.yaml"), null);
  const { fixed, perSample } = tfjsStepHeap(bench, 256);
  // measured: the wasm heap grew from 0.60 GiB (batch 16) to 1.09 GiB (batch 32) in one tfjs.variableGrads step
  const measuredPerSample = ((1.089 - 0.597) * 2 ** 30) / 16;
  assert.ok(perSample > measuredPerSample / 2 && perSample < measuredPerSample * 2, `${perSample} vs measured ${measuredPerSample}`);
  assert.ok(fixed < 0.1 * 2 ** 30);
});

test("art.yaml at batch 16 is refused naming the estimate, the limit and the largest batch that fits", () => {
  const art = config("art.yaml");
  const msg = tfjsWasmHeapRefusal(art, 16, 256, "configs/art.yaml:30") ?? "";
  assert.match(msg, /^configs\/art\.yaml:30: engine\.gradients tfjs on the wasm backend would need about \d+\.\d GiB of wasm heap for a step of 16 samples, more than its 4\.0 GiB limit .*use engine\.gradients: onnx \(or auto\), or a per-worker batch of at most (\d+)$/);
  const fits = Number(/at most (\d+)$/.exec(msg)?.[1]);
  assert.equal(tfjsWasmHeapRefusal(art, fits, 256, "x"), null);
  assert.notEqual(tfjsWasmHeapRefusal(art, fits + 1, 256, "x"), null);
  const { fixed, perSample } = tfjsStepHeap(art, 256);
  assert.ok(fixed + fits * perSample <= WASM_HEAP_MAX_BYTES);
});

test("diffx train refuses it before reading data or writing anything: exit 2, one line", () => {
  const dir = tempDir("diffx-wasm-heap-");
  const r = runCli(["train", path.join(ROOT, "configs", "art.yaml"), "--set", "engine.gradients=tfjs", "--set", "engine.backend=wasm", "--set", "train.batch_size=16", "--run-dir", path.join(dir, "run")], { cwd: dir });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^diffx: --set engine\.gradients=tfjs: engine\.gradients tfjs on the wasm backend would need about [\d.]+ GiB/);
  assert.equal(r.stderr.trim().split("\n").length, 1);
  assert.deepEqual(fs.readdirSync(dir), []);
});
