/**
 * The onnxruntime training-step engine (src/train/onnx-gradients.ts): its loss and flat
 * gradients equal the trainer's tfjs computation — `tf.variableGrads` of `diffusionLoss` of
 * `forward` on the cpu backend — for the text, sketch and unconditional models of the PyTorch
 * fixture (weights from forward.json), with the eps and v objectives, with and without min-SNR
 * weighting, to ≤ 1e-4 relative per tensor. The network's VJPs themselves are checked against
 * PyTorch in onnx-grad-torch.test.ts; this file checks the loss, x_t, targets, weights, the
 * flat layout, and that a step is bit-identical when repeated and with 1 or 2 threads.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { diffusionSchema, modelSchema } from "../../src/config/schema.js";
import { diffusionLoss, objectiveConfig, qSample } from "../../src/diffusion/objective.js";
import { makeSchedule } from "../../src/diffusion/schedule.js";
import { initBackend } from "../../src/engine/backend.js";
import { Rng } from "../../src/engine/rng.js";
import { forward, modelParamSpecs } from "../../src/model/model.js";
import { TfjsOps } from "../../src/nn/tfjs-ops.js";
import { noisedAndTarget, OnnxGradientEngine } from "../../src/train/onnx-gradients.js";
import type { StepInputs } from "../../src/train/step-inputs.js";
import { decodeF32, type EncodedTensor, readForwardCases, relError, type ForwardCase } from "../nn/fixture.js";

const TOLERANCE = 1e-4;
const OBJECTIVES = {
  text: { prediction: "eps", min_snr_gamma: 5 },
  sketch: { prediction: "v", min_snr_gamma: 5 },
  none: { prediction: "eps", min_snr_gamma: 0 },
  "text-pool": { prediction: "v", min_snr_gamma: 0 },
  positions: { prediction: "eps", min_snr_gamma: 5 },
  mid: { prediction: "v", min_snr_gamma: 5 },
} as const;

function i32(e: EncodedTensor): Int32Array {
  const buf = Buffer.from(e.i32 as string, "base64");
  return new Int32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

describe("ONNX training-step gradients vs the tfjs trainer computation", () => {
  before(async () => {
    await initBackend("cpu", { threads: 1 });
  });
  const fixture = { cases: readForwardCases() };
  for (const c of fixture.cases) {
    const obj = OBJECTIVES[c.label as keyof typeof OBJECTIVES];
    it(`${c.label} (${obj.prediction}, min-SNR ${obj.min_snr_gamma}): loss and every gradient match, bit-identical when repeated and across thread counts`, async () => {
      const model = modelSchema.parse(c.config);
      const diffusion = diffusionSchema.parse({ timesteps: 100, ...obj });
      const schedule = makeSchedule(diffusion);
      const objective = objectiveConfig(schedule, diffusion);
      const specs = modelParamSpecs(model, c.vocab);
      const params = specs.map((s) => decodeF32(c.weights[s.name]));
      const [B, R] = c.inputs.x.shape;
      const rng = new Rng(7, "test", c.label);
      const inp: StepInputs = {
        x0: rng.normals(B * R * R * 3),
        noise: rng.normals(B * R * R * 3),
        t: Int32Array.from({ length: B }, (_, b) => [3, 50, 97][b % 3]),
        cond: decodeF32(c.inputs.cond),
        tokens: c.inputs.tokens ? i32(c.inputs.tokens) : undefined,
        sketch: c.inputs.sketch ? decodeF32(c.inputs.sketch) : undefined,
        count: B,
      };

      const engine = await OnnxGradientEngine.create({ model, params: specs, batch: B, objective, threads: 2 });
      const total = engine.total;
      const flat = new Float32Array(total + 1);
      await engine.compute(params, inp, flat);
      const again = new Float32Array(total + 1);
      await engine.compute(params, inp, again);
      await engine.release();
      assert.ok(Buffer.from(flat.buffer).equals(Buffer.from(again.buffer)), "a repeated step gave different bits");
      const oneThread = await OnnxGradientEngine.create({ model, params: specs, batch: B, objective, threads: 1 });
      const single = new Float32Array(total + 1);
      await oneThread.compute(params, inp, single);
      await oneThread.release();
      assert.ok(Buffer.from(flat.buffer).equals(Buffer.from(single.buffer)), "1 and 2 threads gave different bits");

      // the trainer's computation on tfjs (cpu)
      const ref = tf.tidy(() => {
        const vars = specs.map((s, k) => tf.variable(tf.tensor(params[k], s.shape), true));
        const ops = new TfjsOps(new Map(specs.map((s, k) => [s.name, vars[k] as tf.Tensor])));
        const x0 = tf.tensor(inp.x0, [B, R, R, 3]);
        const eps = tf.tensor(inp.noise, [B, R, R, 3]);
        const tArr = Array.from(inp.t);
        const xt = qSample(x0, eps, tArr, schedule);
        assert.deepEqual(Array.from(xt.dataSync()), Array.from(noisedAndTarget(inp, objective).xt), "x_t differs from qSample");
        const { value, grads } = tf.variableGrads(
          () =>
            diffusionLoss(
              forward(ops, model, {
                x: xt,
                t: tf.tensor(Float32Array.from(tArr), [B]),
                cond: tf.tensor(inp.cond, [B]),
                tokens: inp.tokens ? tf.tensor(inp.tokens, [B, model.max_tokens], "int32") : undefined,
                sketch: inp.sketch ? tf.tensor(inp.sketch, [B, R, R, 1]) : undefined,
              }),
              x0,
              eps,
              tArr,
              objective,
            ),
          vars,
        );
        const out = { loss: value.dataSync()[0], grads: vars.map((v) => Float32Array.from(grads[v.name].dataSync())) };
        vars.forEach((v) => v.dispose());
        return out;
      });
      const lossErr = Math.abs(flat[total] - ref.loss) / Math.abs(ref.loss);
      assert.ok(lossErr <= TOLERANCE, `loss ${flat[total]} vs ${ref.loss}`);
      const floor = 1e-3 * Math.max(...ref.grads.map((g) => g.reduce((m, v) => Math.max(m, Math.abs(v)), 0)));
      let off = 0;
      let worst = 0;
      let worstName = "";
      specs.forEach((s, k) => {
        const n = params[k].length;
        const err = relError(flat.subarray(off, off + n), ref.grads[k], floor);
        if (err > worst) [worst, worstName] = [err, s.name];
        off += n;
      });
      assert.ok(worst <= TOLERANCE, `gradient of ${worstName}: rel error ${worst}`);
      if (process.env.DIFFX_TEST_VERBOSE) console.log(c.label, { loss: flat[total], lossErr, worst, worstName });
    });
  }
});
