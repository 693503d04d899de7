/**
 * Sampling speed: images/s for DDIM sampling (25 steps) at 32×32, batch 16, of the
 * configs/bench.yaml network (unconditional; seeded random-init weights — the speed does not
 * depend on the values), through diffx's own generation driver (src/sample/generate.ts) on
 * each engine: tfjs on the selected backend (auto = the fastest that loads) and
 * onnxruntime-node (the model traced in memory, all cores). Never asserted anywhere.
 *
 *   node --import tsx bench/sampling.ts [--backend auto|tensorflow|wasm|cpu] [--reps N] [--steps S] [--batch B]
 *
 * `benchSampling()` is also called by bench/run.ts (`npm run bench`).
 */
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";
import { loadConfig } from "../src/config/load.js";
import { initBackend, type BackendRequest } from "../src/engine/backend.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import { initParams, modelParamSpecs } from "../src/model/model.js";
import { countParams } from "../src/model/params.js";
import { onnxNetworkFromParams } from "../src/export/onnx-network.js";
import { generate } from "../src/sample/generate.js";
import { tfjsNetwork, type NetworkSession } from "../src/sample/tfjs-network.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export interface SamplingBenchOptions {
  /** tfjs backend (default "auto"). */
  backend?: BackendRequest;
  /** Timed samples per engine after one warm-up (default 3). */
  reps?: number;
  /** DDIM steps (default 25). */
  steps?: number;
  /** Images per network call (default 16). */
  batch?: number;
  /** Only 32 is supported: the bench network's resolution (accepted for bench/run.ts). */
  resolution?: number;
  /** Print a line per measurement (default true when run alone). */
  log?: (line: string) => void;
}

export interface SamplingBenchRow {
  /** "tfjs-<backend>" or "onnx-<provider>". */
  engine: string;
  threads: number;
  batch: number;
  steps: number;
  resolution: number;
  params: number;
  /** Wall time of each timed batch (seconds). */
  seconds: number[];
  /** batch / median seconds. */
  imagesPerSecond: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export async function benchSampling(opts: SamplingBenchOptions = {}): Promise<SamplingBenchRow[]> {
  const reps = opts.reps ?? 3;
  const steps = opts.steps ?? 25;
  const batch = opts.batch ?? 16;
  const log = opts.log ?? (() => {});
  const { config } = loadConfig(path.join(ROOT, "configs", "bench.yaml"));
  if (opts.resolution !== undefined && opts.resolution !== config.model.resolution) {
    throw new Error(`bench/sampling.ts: configs/bench.yaml is ${config.model.resolution}×${config.model.resolution}, not ${opts.resolution}`);
  }
  const model = config.model;
  const params = initParams(modelParamSpecs(model, 0), config.seed);
  const schedule = makeSchedule(config.diffusion);
  const time = async (session: NetworkSession, engine: string, threads: number): Promise<SamplingBenchRow> => {
    const run = (n: number) =>
      generate({
        session,
        model,
        schedule,
        prediction: config.diffusion.prediction,
        sampler: { name: "ddim", steps: n, eta: 0, clipX0: 1 },
        guidance: 1,
        seed: config.seed,
        tokenizer: null,
        conditions: Array.from({ length: batch }, () => ({})),
        batchSize: batch,
      });
    await run(2); // warm-up: kernels, allocations
    const seconds: number[] = [];
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      await run(steps);
      seconds.push((performance.now() - t0) / 1000);
      log(`  ${engine}: ${batch} images × ${steps} DDIM steps in ${(seconds[r] as number).toFixed(2)} s`);
    }
    return { engine, threads, batch, steps, resolution: model.resolution, params: countParams(params), seconds, imagesPerSecond: batch / median(seconds) };
  };

  const rows: SamplingBenchRow[] = [];
  const backend = await initBackend(opts.backend ?? "auto", { threads: "auto" });
  const tfjs = tfjsNetwork(model, params);
  try {
    rows.push(await time(tfjs, `tfjs-${backend.name}`, backend.threads));
  } finally {
    tfjs.dispose();
  }
  const onnx = await onnxNetworkFromParams(model, params);
  try {
    rows.push(await time(onnx, `onnx-${onnx.session.provider}`, onnx.session.threads));
  } finally {
    onnx.dispose();
  }
  return rows;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const num = (name: string): number | undefined => (arg(name) === undefined ? undefined : Number(arg(name)));
  const rows = await benchSampling({ backend: (arg("backend") as BackendRequest | undefined) ?? "auto", reps: num("reps"), steps: num("steps"), batch: num("batch"), log: (l) => console.log(l) });
  console.log(`\nDDIM sampling, configs/bench.yaml network (${rows[0]?.params ?? "?"} params, 32×32, unconditional)`);
  console.log("engine            threads  batch  steps  images/s  (median of seconds per batch)");
  for (const r of rows) {
    console.log(`${r.engine.padEnd(18)}${String(r.threads).padStart(7)}${String(r.batch).padStart(7)}${String(r.steps).padStart(7)}${r.imagesPerSecond.toFixed(2).padStart(10)}  (${r.seconds.map((s) => s.toFixed(2)).join(", ")} s)`);
  }
}
