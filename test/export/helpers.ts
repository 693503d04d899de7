/** Shared helpers for the ONNX export tests: trace → onnxruntime-node, data, comparisons. */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../../src/engine/rng.js";
import { buildOnnxModel, type ExportInput, type TracedForward } from "../../src/export/onnx-export.js";
import { createOnnxSession, releaseOnnxSession, runOnnxWithShape, type OnnxFeed } from "../../src/export/onnx-runner.js";
import type { ParamTensor } from "../../src/nn/onnx-ops.js";

export const PYTHON = "/usr/bin/python3";

let tfReady: Promise<void> | null = null;
/** tfjs on the pure-JS cpu backend (the reference side of these tests). */
export function useTfCpu(): Promise<void> {
  tfReady ??= (async () => {
    await tf.setBackend("cpu");
    await tf.ready();
  })();
  return tfReady;
}

/** Deterministic N(0, scale²) values. */
export function randn(n: number, seed: string, scale = 1): Float32Array {
  const out = new Rng(7, "test-onnx", seed).normals(n);
  if (scale !== 1) for (let i = 0; i < n; i++) out[i] = (out[i] as number) * scale;
  return out;
}

export function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Max |a − b| over max |b|: the error relative to the reference's scale. */
export function relError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} vs ${expected.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i] as number;
    const a = actual[i] as number;
    if (!Number.isFinite(a)) return Infinity;
    diff = Math.max(diff, Math.abs(a - e));
    scale = Math.max(scale, Math.abs(e));
  }
  return diff / Math.max(scale, 1e-30);
}

/** Builds the model in memory, runs it once per feed set in one session. */
export async function traceAndRun(
  forward: TracedForward,
  params: Map<string, ParamTensor>,
  inputs: ExportInput[],
  feedSets: Record<string, OnnxFeed>[],
): Promise<{ data: Float32Array; shape: number[] }[]> {
  const built = buildOnnxModel(forward, params, inputs);
  const session = await createOnnxSession(built.bytes, { threads: 1 });
  try {
    const out: { data: Float32Array; shape: number[] }[] = [];
    for (const feeds of feedSets) out.push(await runOnnxWithShape(session, feeds));
    return out;
  } finally {
    await releaseOnnxSession(session);
  }
}

/** Whether /usr/bin/python3 can import these modules. */
export function pythonHas(...modules: string[]): boolean {
  if (!fs.existsSync(PYTHON)) return false;
  const r = spawnSync(PYTHON, ["-c", modules.map((m) => `import ${m}`).join("; ")], { encoding: "utf8" });
  return r.status === 0;
}

/** Runs onnx.checker.check_model (full_check) on a file; returns null when it passes, else the message. */
export function onnxCheck(file: string): string | null {
  const script = ["import sys, onnx", "m = onnx.load(sys.argv[1])", "onnx.checker.check_model(m, full_check=True)", "print(m.ir_version, m.opset_import[0].version)"].join("\n");
  const r = spawnSync(PYTHON, ["-c", script, file], { encoding: "utf8" });
  return r.status === 0 ? null : (r.stderr || r.stdout).trim().split("\n").slice(-3).join(" | ");
}
