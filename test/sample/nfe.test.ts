/**
 * Network evaluations per image (NFE) for every sampler, with and without classifier-free
 * guidance: the arithmetic of src/diffusion/samplers/nfe.ts against the rows a real tfjs network
 * session is actually asked to evaluate while `generate` samples three images (ci-tiny's model
 * with seeded random weights, text-conditioned and unconditional).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as path from "node:path";
import { loadConfig } from "../../src/config/load.js";
import type { ModelConfig } from "../../src/config/schema.js";
import { networkEvaluations, SAMPLER_NAMES, usesGuidance } from "../../src/diffusion/samplers/index.js";
import { makeSchedule } from "../../src/diffusion/schedule.js";
import { initBackend } from "../../src/engine/backend.js";
import { modelParamSpecs } from "../../src/model/model.js";
import { initParams } from "../../src/model/params.js";
import { Tokenizer } from "../../src/model/tokenizer.js";
import { generate } from "../../src/sample/generate.js";
import type { NetworkSession } from "../../src/sample/network-session.js";
import { tfjsNetwork } from "../../src/sample/tfjs-network.js";
import { ROOT } from "../helpers/cli.js";

const { config } = loadConfig(path.join(ROOT, "configs", "ci-tiny.yaml"));
const PROMPTS = ["red circle", "blue square", "green star"];
const STEPS = 3;

/** The session, counting every row (one x_t of one image) it evaluates. */
function counting(session: NetworkSession): { session: NetworkSession; rows: () => number } {
  let rows = 0;
  return {
    session: {
      run: (x, t, inputs, cond) => {
        rows += t.length;
        return session.run(x, t, inputs, cond);
      },
      dispose: () => session.dispose(),
    },
    rows: () => rows,
  };
}

test("NFE per image = steps, doubled when guidance runs the unconditional pass: every sampler, guided or not, as counted on a real network", async () => {
  await initBackend("wasm", { threads: 1 });
  const tokenizer = Tokenizer.build(PROMPTS);
  const schedule = makeSchedule(config.diffusion);
  const seen: string[] = [];
  for (const conditioning of ["text", "none"] as const) {
    const model: ModelConfig = { ...config.model, conditioning };
    const params = initParams(modelParamSpecs(model, conditioning === "text" ? tokenizer.size : 0), 7);
    for (const sampler of SAMPLER_NAMES) {
      for (const guidance of [1, 2.5, 0]) {
        const net = counting(tfjsNetwork(model, params));
        try {
          await generate({
            session: net.session,
            model,
            schedule,
            prediction: "eps",
            sampler: { name: sampler, steps: STEPS, eta: 1 },
            guidance,
            seed: 3,
            tokenizer: conditioning === "text" ? tokenizer : null,
            conditions: PROMPTS.map((prompt) => (conditioning === "text" ? { prompt } : {})),
            batchSize: 2,
          });
        } finally {
          net.session.dispose();
        }
        const measured = net.rows() / PROMPTS.length;
        const expected = networkEvaluations({ steps: STEPS }, usesGuidance(conditioning, guidance));
        assert.equal(measured, expected, `${conditioning}, ${sampler}, guidance ${guidance}`);
        seen.push(`${conditioning}/${sampler}/${guidance}=${expected}`);
      }
    }
  }
  // the hand-worked table: 3 steps; a text model guided at w ≠ 1 pays twice; w = 1 and unconditional models once
  assert.deepEqual(seen, [
    "text/ddpm/1=3", "text/ddpm/2.5=6", "text/ddpm/0=6",
    "text/ddim/1=3", "text/ddim/2.5=6", "text/ddim/0=6",
    "text/dpmpp/1=3", "text/dpmpp/2.5=6", "text/dpmpp/0=6",
    "none/ddpm/1=3", "none/ddpm/2.5=3", "none/ddpm/0=3",
    "none/ddim/1=3", "none/ddim/2.5=3", "none/ddim/0=3",
    "none/dpmpp/1=3", "none/dpmpp/2.5=3", "none/dpmpp/0=3",
  ]);
});
