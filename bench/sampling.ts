/**
 * Sampling speed: images/s for DDIM sampling (25 steps, η = 0, x̂_0 clipped to [−1, 1]) at
 * 32×32, batch 16, of the configs/bench.yaml network (unconditional; seeded random-init weights —
 * the speed does not depend on the values), through diffx's own generation driver
 * (src/sample/generate.ts) on each engine: tfjs on the selected backend (auto = the fastest that
 * loads) and onnxruntime-node (the model traced in memory, all cores). With --torch, PyTorch's
 * loop (bench/reference/torch_unet.py, OpenMP's default wait policy and OMP_WAIT_POLICY=PASSIVE)
 * runs in the same rounds. Never asserted anywhere.
 *
 *   node --import tsx bench/sampling.ts [--backend auto|tensorflow|wasm|cpu] [--engines tfjs,onnx]
 *        [--rounds R] [--reps N] [--steps S] [--batch B] [--onnx-spinning auto|off|on|both] [--torch] [--forward N]
 *
 * Every engine (and torch variant) gets one untimed warm-up, then R rounds of N timed samples;
 * the order of the engines is reversed every other round, so a change in the machine's load hits
 * all of them alike. --forward N also times N bare network calls per round and engine (the
 * same call the sampler makes), so the sampling loop's own cost per step can be read off.
 *
 * `benchSampling()` is also called by bench/run.ts (`npm run bench`), which times PyTorch itself.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import * as readline from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { loadConfig } from "../src/config/load.js";
import { initBackend, type BackendRequest } from "../src/engine/backend.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import { initParams, modelParamSpecs } from "../src/model/model.js";
import { countParams } from "../src/model/params.js";
import { onnxNetworkFromParams } from "../src/export/onnx-network.js";
import { generate } from "../src/sample/generate.js";
import type { NetworkSession } from "../src/sample/network-session.js";
import { tfjsNetwork } from "../src/sample/tfjs-network.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const PYTHON = "/usr/bin/python3";
const TORCH_SCRIPT = path.join(ROOT, "bench", "reference", "torch_unet.py");

export type SamplingEngine = "tfjs" | "onnx";
/** auto: the runner's default (spin only on a machine that is not busy). */
export type SpinningChoice = "auto" | "off" | "on" | "both";

export interface SamplingBenchOptions {
  /** tfjs backend (default "auto"). */
  backend?: BackendRequest;
  /** Engines to time (default both). */
  engines?: readonly SamplingEngine[];
  /** Interleaved rounds (default 1). */
  rounds?: number;
  /** Timed samples per engine and round, after one warm-up (default 3). */
  reps?: number;
  /** DDIM steps (default 25). */
  steps?: number;
  /** Images per network call (default 16). */
  batch?: number;
  /** Only 32 is supported: the bench network's resolution (accepted for bench/run.ts). */
  resolution?: number;
  /** onnxruntime's idle intra-op threads: sleep (default), spin, or one session of each. */
  onnxSpinning?: SpinningChoice;
  /** Also run PyTorch's sampling loop in the rounds (default false). */
  torch?: boolean;
  /** Bare network calls timed per engine and round (default 0). */
  forwardReps?: number;
  /** Print a line per measurement (default true when run alone). */
  log?: (line: string) => void;
}

export interface SamplingBenchRow {
  /** "tfjs-<backend>", "onnx-<provider>" (+ "-spin" for a spinning session), "torch-default", "torch-passive". */
  engine: string;
  threads: number;
  batch: number;
  steps: number;
  resolution: number;
  params: number;
  /** Wall time of each timed batch (seconds). */
  seconds: number[];
  /** Median seconds per batch in each round. */
  roundMedians: number[];
  /** batch / median seconds. */
  imagesPerSecond: number;
  /** Bare network calls (ms), when --forward asked for them. */
  forwardMs?: number[];
  /** Median ms per sampling step minus median ms per bare network call: the loop's own cost. */
  loopMsPerStep?: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** One measured thing: warm it up, then time `reps` samples (and `forwardReps` network calls). */
interface Contender {
  row: SamplingBenchRow;
  warmup(): Promise<void>;
  samples(reps: number): Promise<number[]>;
  forwards?(reps: number): Promise<number[]>;
  close(): Promise<void>;
}

export async function benchSampling(opts: SamplingBenchOptions = {}): Promise<SamplingBenchRow[]> {
  const rounds = opts.rounds ?? 1;
  const reps = opts.reps ?? 3;
  const steps = opts.steps ?? 25;
  const batch = opts.batch ?? 16;
  const forwardReps = opts.forwardReps ?? 0;
  const engines = opts.engines ?? ["tfjs", "onnx"];
  const spinning = opts.onnxSpinning ?? "auto";
  const log = opts.log ?? (() => {});
  const { config } = loadConfig(path.join(ROOT, "configs", "bench.yaml"));
  if (opts.resolution !== undefined && opts.resolution !== config.model.resolution) {
    throw new Error(`bench/sampling.ts: configs/bench.yaml is ${config.model.resolution}×${config.model.resolution}, not ${opts.resolution}`);
  }
  const model = config.model;
  const R = model.resolution;
  const params = initParams(modelParamSpecs(model, 0), config.seed);
  const schedule = makeSchedule(config.diffusion);
  const rowOf = (engine: string, threads: number): SamplingBenchRow => ({ engine, threads, batch, steps, resolution: R, params: countParams(params), seconds: [], roundMedians: [], imagesPerSecond: 0 });

  const diffx = (session: NetworkSession, engine: string, threads: number, close: () => void): Contender => {
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
    // the network call the sampler makes at a mid-schedule step
    const x = new Float32Array(batch * R * R * 3).map((_, i) => Math.sin(i));
    const t = new Float32Array(batch).fill(500);
    const cond = new Float32Array(batch).fill(1);
    return {
      row: rowOf(engine, threads),
      async warmup() {
        await run(2); // kernels, allocations
      },
      async samples(n) {
        const out: number[] = [];
        for (let r = 0; r < n; r++) {
          const t0 = performance.now();
          await run(steps);
          out.push((performance.now() - t0) / 1000);
        }
        return out;
      },
      async forwards(n) {
        const out: number[] = [];
        for (let r = 0; r < n; r++) {
          const t0 = performance.now();
          await session.run(x, t, {}, cond);
          out.push(performance.now() - t0);
        }
        return out;
      },
      async close() {
        close();
      },
    };
  };

  const contenders: Contender[] = [];
  try {
    if (engines.includes("tfjs")) {
      const backend = await initBackend(opts.backend ?? "auto", { threads: "auto" });
      const tfjs = tfjsNetwork(model, params);
      contenders.push(diffx(tfjs, `tfjs-${backend.name}`, backend.threads, () => tfjs.dispose()));
    }
    if (engines.includes("onnx")) {
      const choices: (boolean | undefined)[] = spinning === "both" ? [false, true] : spinning === "auto" ? [undefined] : [spinning === "on"];
      for (const spin of choices) {
        const onnx = await onnxNetworkFromParams(model, params, { spinning: spin });
        contenders.push(diffx(onnx, `onnx-${onnx.session.provider}${onnx.session.spinning ? "-spin" : ""}`, onnx.session.threads, () => onnx.dispose()));
      }
    }
    if (opts.torch) {
      for (const passive of [false, true]) contenders.push(await torchContender(passive, batch, steps, rowOf));
    }
    for (const c of contenders) await c.warmup();
    for (let round = 0; round < rounds; round++) {
      for (const c of round % 2 ? [...contenders].reverse() : contenders) {
        const secs = await c.samples(reps);
        c.row.seconds.push(...secs);
        c.row.roundMedians.push(median(secs));
        log(`  round ${round + 1}: ${c.row.engine}: ${batch} images × ${steps} DDIM steps in ${secs.map((s) => s.toFixed(2)).join(", ")} s`);
        if (forwardReps > 0 && c.forwards) {
          const ms = await c.forwards(forwardReps);
          (c.row.forwardMs ??= []).push(...ms);
          log(`  round ${round + 1}: ${c.row.engine}: network call ${ms.map((v) => v.toFixed(0)).join(", ")} ms`);
        }
      }
    }
  } finally {
    for (const c of contenders) await c.close();
  }
  for (const { row } of contenders) {
    row.imagesPerSecond = batch / median(row.seconds);
    if (row.forwardMs?.length) row.loopMsPerStep = (median(row.seconds) * 1000) / steps - median(row.forwardMs);
  }
  return contenders.map((c) => c.row);
}

/** PyTorch's DDIM loop in a torch_unet.py --serve process. */
async function torchContender(passive: boolean, batch: number, steps: number, rowOf: (engine: string, threads: number) => SamplingBenchRow): Promise<Contender> {
  const env = { ...process.env };
  if (passive) env.OMP_WAIT_POLICY = "PASSIVE";
  const threads = os.availableParallelism();
  const child: ChildProcessWithoutNullStreams = spawn(PYTHON, [TORCH_SCRIPT, "--serve", "--threads", String(threads), "--batch", String(batch)], { env });
  child.stderr.on("data", (d: Buffer) => process.stderr.write(d));
  const lines = readline.createInterface({ input: child.stdout });
  const waiting: ((reply: Record<string, unknown>) => void)[] = [];
  lines.on("line", (line) => {
    if (line.startsWith("@@bench ")) waiting.shift()?.(JSON.parse(line.slice(8)) as Record<string, unknown>);
  });
  const exited = new Promise<never>((_, reject) => child.on("exit", (code) => reject(new Error(`torch_unet.py exited with code ${String(code)}`))));
  exited.catch(() => {});
  const next = () => Promise.race([new Promise<Record<string, unknown>>((resolve) => waiting.push(resolve)), exited]);
  const ready = next();
  await ready;
  const ask = async (cmd: Record<string, unknown>): Promise<number[]> => {
    const reply = next();
    child.stdin.write(JSON.stringify(cmd) + "\n");
    const ms = (await reply).ms;
    if (!Array.isArray(ms)) throw new Error(`torch_unet.py answered ${JSON.stringify(cmd)} without times`);
    return ms.map(Number);
  };
  return {
    row: rowOf(passive ? "torch-passive" : "torch-default", threads),
    async warmup() {
      await ask({ cmd: "sample", reps: 1, warmup: 0, steps: 2 });
    },
    async samples(n) {
      return (await ask({ cmd: "sample", reps: n, warmup: 0, steps })).map((ms) => ms / 1000);
    },
    async forwards(n) {
      return ask({ cmd: "forward", reps: n, warmup: 0 });
    },
    async close() {
      child.stdin.end();
      await Promise.race([new Promise((resolve) => child.on("exit", resolve)), new Promise((resolve) => setTimeout(resolve, 5000))]);
      if (child.exitCode === null) child.kill();
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const num = (name: string): number | undefined => (arg(name) === undefined ? undefined : Number(arg(name)));
  if (process.argv.includes("--help")) {
    console.log("node --import tsx bench/sampling.ts [--backend auto|tensorflow|wasm|cpu] [--engines tfjs,onnx] [--rounds 1] [--reps 3] [--steps 25] [--batch 16] [--onnx-spinning auto|off|on|both] [--torch] [--forward N]");
    process.exit(0);
  }
  const engines = (arg("engines") ?? "tfjs,onnx").split(",").filter((e): e is SamplingEngine => e === "tfjs" || e === "onnx");
  const spinning = arg("onnx-spinning");
  const load0 = os.loadavg();
  const rows = await benchSampling({
    backend: (arg("backend") as BackendRequest | undefined) ?? "auto",
    engines,
    rounds: num("rounds"),
    reps: num("reps"),
    steps: num("steps"),
    batch: num("batch"),
    onnxSpinning: spinning === "on" || spinning === "both" || spinning === "off" ? spinning : "auto",
    torch: process.argv.includes("--torch"),
    forwardReps: num("forward"),
    log: (l) => console.log(l),
  });
  const load1 = os.loadavg();
  const torchRates = rows.filter((r) => r.engine.startsWith("torch")).map((r) => r.imagesPerSecond);
  const torchBest = torchRates.length ? Math.max(...torchRates) : null;
  console.log(`\nDDIM sampling, configs/bench.yaml network (${rows[0]?.params ?? "?"} params, 32×32, unconditional); load average ${load0[0]?.toFixed(1)} → ${load1[0]?.toFixed(1)} on ${os.availableParallelism()} CPUs`);
  console.log(`engine            threads  batch  steps  images/s${torchBest ? "  ×torch" : ""}  net ms  loop ms/step  round medians (s)`);
  for (const r of rows) {
    const ratio = torchBest ? (r.imagesPerSecond / torchBest).toFixed(2).padStart(8) : "";
    const net = r.forwardMs?.length ? median(r.forwardMs).toFixed(1) : "–";
    const loop = r.loopMsPerStep !== undefined ? r.loopMsPerStep.toFixed(1) : "–";
    console.log(`${r.engine.padEnd(18)}${String(r.threads).padStart(7)}${String(r.batch).padStart(7)}${String(r.steps).padStart(7)}${r.imagesPerSecond.toFixed(2).padStart(10)}${ratio}${net.padStart(8)}${loop.padStart(14)}  ${r.roundMedians.map((s) => s.toFixed(2)).join(", ")}`);
  }
  if (torchBest) console.log("×torch: images/s ÷ the faster PyTorch variant's images/s (> 1 = faster than PyTorch)");
}
