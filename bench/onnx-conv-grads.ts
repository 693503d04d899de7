/**
 * Feasibility (issue 9): times in onnxruntime-node, at the bench network's conv shapes at
 * batch 16, the conv work of a training step: forward Conv, input gradient (ConvTranspose),
 * filter gradient (as one im2col Gemm over NHWC slices, or as a Conv with batch as channels).
 *   node --import tsx bench/onnx-conv-grads.ts [--reps 5]
 */
import * as os from "node:os";
import * as ort from "onnxruntime-node";
import { attr, OnnxGraph } from "../src/nn/onnx-graph.js";

const B = 16;
// [resolution, in, out, stride]
const CONVS: [number, number, number, number][] = [
  [32, 3, 32, 1], [32, 32, 32, 1], [32, 32, 32, 1], [32, 32, 32, 2],
  [16, 32, 64, 1], [16, 64, 64, 1], [16, 64, 64, 2],
  [8, 64, 128, 1], [8, 128, 128, 1],
  [8, 256, 128, 1], [8, 128, 128, 1], [16, 128, 128, 1],
  [16, 192, 64, 1], [16, 64, 64, 1], [32, 64, 64, 1],
  [32, 96, 32, 1], [32, 32, 32, 1], [32, 32, 3, 1],
];
const reps = Number(process.argv[process.argv.indexOf("--reps") + 1] || 5);

type Kind = "fwd" | "dx" | "dw-gemm" | "dw-conv";
function build(kind: Kind): { bytes: Uint8Array; feeds: Record<string, ort.Tensor> } {
  const g = new OnnxGraph();
  const feeds: Record<string, ort.Tensor> = {};
  const outs: string[] = [];
  const rnd = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 0.5);
  CONVS.forEach(([r, ci, co, s], k) => {
    const ro = r / s;
    const pads = [1, 1, 1, 1];
    if (kind === "fwd") {
      g.addInput(`x${k}`, "float32", [B, ci, r, r]); feeds[`x${k}`] = new ort.Tensor("float32", rnd(B * ci * r * r), [B, ci, r, r]);
      g.addInput(`w${k}`, "float32", [co, ci, 3, 3]); feeds[`w${k}`] = new ort.Tensor("float32", rnd(co * ci * 9), [co, ci, 3, 3]);
      outs.push(g.node1("Conv", [`x${k}`, `w${k}`], { kernel_shape: attr.ints([3, 3]), strides: attr.ints([s, s]), pads: attr.ints(pads) }));
    } else if (kind === "dx") {
      g.addInput(`g${k}`, "float32", [B, co, ro, ro]); feeds[`g${k}`] = new ort.Tensor("float32", rnd(B * co * ro * ro), [B, co, ro, ro]);
      g.addInput(`w${k}`, "float32", [co, ci, 3, 3]); feeds[`w${k}`] = new ort.Tensor("float32", rnd(co * ci * 9), [co, ci, 3, 3]);
      const op = r - (s * (ro - 1) + 3 - 2);
      outs.push(g.node1("ConvTranspose", [`g${k}`, `w${k}`], { kernel_shape: attr.ints([3, 3]), strides: attr.ints([s, s]), pads: attr.ints(pads), output_padding: attr.ints([op, op]) }));
    } else if (kind === "dw-gemm") {
      // NHWC x, NHWC g: pad x, 9 strided slices → concat on channels → [B·ro·ro, 9ci]ᵀ · [B·ro·ro, co]
      g.addInput(`x${k}`, "float32", [B, r, r, ci]); feeds[`x${k}`] = new ort.Tensor("float32", rnd(B * ci * r * r), [B, r, r, ci]);
      g.addInput(`g${k}`, "float32", [B, ro, ro, co]); feeds[`g${k}`] = new ort.Tensor("float32", rnd(B * co * ro * ro), [B, ro, ro, co]);
      const xp = g.node1("Pad", [`x${k}`, g.int64Const([0, 1, 1, 0, 0, 1, 1, 0])]);
      const taps: string[] = [];
      for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) {
        taps.push(g.node1("Slice", [xp, g.int64Const([i, j]), g.int64Const([i + s * (ro - 1) + 1, j + s * (ro - 1) + 1]), g.int64Const([1, 2]), g.int64Const([s, s])]));
      }
      const cols = g.node1("Reshape", [g.node1("Concat", taps, { axis: attr.int(3) }), g.int64Const([-1, 9 * ci])]);
      const g2 = g.node1("Reshape", [`g${k}`, g.int64Const([-1, co])]);
      outs.push(g.node1("Gemm", [cols, g2], { transA: attr.int(1) }));
    } else {
      // NCHW x → [ci, B, r, r]; NCHW g → [co, B, ro, ro] as the "weight"; dilation = stride
      g.addInput(`x${k}`, "float32", [ci, B, r, r]); feeds[`x${k}`] = new ort.Tensor("float32", rnd(B * ci * r * r), [ci, B, r, r]);
      g.addInput(`g${k}`, "float32", [co, B, ro, ro]); feeds[`g${k}`] = new ort.Tensor("float32", rnd(B * co * ro * ro), [co, B, ro, ro]);
      outs.push(g.node1("Conv", [`x${k}`, `g${k}`], { kernel_shape: attr.ints([ro, ro]), dilations: attr.ints([s, s]), pads: attr.ints(pads) }));
    }
  });
  // one scalar output so all results are computed but little is copied out
  const sums = outs.map((o) => g.node1("ReduceSum", [o], { keepdims: attr.int(0) }));
  g.addOutput("out", g.node1("Sum", sums), "float32", []);
  return { bytes: g.toBytes("feas", "0"), feeds };
}

const kinds: Kind[] = ["fwd", "dx", "dw-gemm", "dw-conv"];
const sessions = new Map<Kind, { s: ort.InferenceSession; feeds: Record<string, ort.Tensor> }>();
for (const k of kinds) {
  const { bytes, feeds } = build(k);
  sessions.set(k, { s: await ort.InferenceSession.create(bytes, { graphOptimizationLevel: "all", intraOpNumThreads: os.availableParallelism(), executionMode: "sequential" }), feeds });
}
const times = new Map<Kind, number[]>(kinds.map((k) => [k, []]));
for (let rep = 0; rep < reps + 1; rep++) {
  for (const k of kinds) {
    const { s, feeds } = sessions.get(k)!;
    const t0 = performance.now();
    await s.run(feeds);
    if (rep > 0) times.get(k)!.push(performance.now() - t0);
  }
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
for (const k of kinds) console.log(k.padEnd(8), `median ${med(times.get(k)!).toFixed(1)} ms`, times.get(k)!.map((t) => t.toFixed(0)).join(" "));
