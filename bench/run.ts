/**
 * `npm run bench`: diffx's speed on this machine, side by side with PyTorch where there is a
 * reference. Never part of `npm test`; nothing here asserts a speed.
 *
 *  1. The bench network (configs/bench.yaml = bench/reference/torch_unet.py, 1,373,155 params,
 *     0.496 GFLOP per image forward), batch 16: forward and training step on tfjs-wasm and on
 *     PyTorch, in interleaved rounds (A, B, A, B …) so that load changes on this shared machine
 *     hit both. PyTorch runs twice — OpenMP's default wait policy and OMP_WAIT_POLICY=PASSIVE —
 *     because on an oversubscribed machine spinning OpenMP threads slow torch down several-fold;
 *     "torch" is the faster of the two per measurement.
 *  2. Sampling images/s, 25 DDIM steps at 32×32, batch 16: diffx's engines through
 *     bench/sampling.ts and PyTorch, torch rounds before and after.
 *  3. All-reduce time for 2 and 4 workers at the bench and art.yaml gradient sizes through
 *     bench/allreduce.ts.
 *  4. The bench network on the pure-JS `cpu` backend (≈ 25 s forward, ≈ 60 s per step on an idle
 *     machine: 1 warm-up + 2 timed forwards and ONE training step).
 *  5. The configs/art.yaml model (64×64, text-conditioned, ≈ 38 GFLOP/image forward), training
 *     step at batch 16 on every usable backend that can take it: tensorflow (tfjs-node) when
 *     installed, and wasm on all CPUs (`--art-threads`; never "auto", which falls back to one
 *     thread when the machine is already busy): 1 warm-up + 2 timed steps, each reported as it
 *     ends (minutes per step here). The cpu backend is timed too when the trainer computes its
 *     gradients in onnxruntime there (engine.gradients auto); with tfjs gradients it is not run
 *     (hours per step) and gets a note with the time projected from the bench network's cpu/wasm
 *     ratio. A backend that is not installed gets a note saying so.
 *  6. Pretraining: `diffx pretrain` of each shipped pretraining config (configs/pretrain-*.yaml)
 *     for --pretrain-steps steps through bench/pretrain.ts: steps/s as the run logged it.
 *  7. LoRA: a LoRA training step (ranks 4 and 16) vs a full fine-tuning step of the bench
 *     network through bench/lora-step.ts (onnxruntime gradients + host update), ms per step.
 *  8. FID: diffx's exact FID of --fid-n × --fid-d seeded features (default 10,000 × 2,048,
 *     pytorch-fid's Inception width) beside scipy's np.cov + sqrtm on the same features, through
 *     bench/fid.ts: seconds and both values.
 *  9. Start-up: wall and CPU ms of `diffx --version`, `--help`, `npx diffx --version` and a
 *     one-image sample on each engine, beside an empty node, through bench/startup.ts
 *     (`--startup-reps`, default 5). It runs first: it is the cheapest.
 * Sections run in that order (start-up first) (cheapest and most asked-for first); a failing section is noted
 * and the rest still run. bench/results.json is rewritten after every section (`complete`
 * false until the end), then a table is printed.
 * See bench/README.md for every field of results.json.
 *
 *   npm run bench [-- --rounds 3 --reps 5 --art-reps 2 --art-warmup 1 --sample-reps 6 --diffx-sample-reps 3 --skip cpu,art,…]
 *   --skip takes any of: startup, wasm, torch, cpu, art, sampling, allreduce, pretrain, lora, fid
 *   --fid-n N --fid-d D sizes the FID section's feature sets (default 10000 × 2048)
 *   --pretrain-steps N times `diffx pretrain` of each shipped base config for N steps (default 200)
 *   --wasm-threads auto,1 times the bench network on wasm once per listed thread count
 *   --art-threads N runs the art.yaml model on N wasm threads (default: all CPUs, at most 8)
 *   --art-step-timeout MIN gives up on a backend whose art.yaml step takes longer (default 60)
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { loadConfig } from "../src/config/load.js";
import { writeJsonAtomic } from "../src/engine/atomic.js";
import { forward, modelParamSpecs } from "../src/model/model.js";
import { ShapeOps } from "../src/nn/shape-ops.js";
import { probeBackends } from "../src/engine/backend.js";
import { chooseGradientEngine } from "../src/train/trainer.js";
import { MAX_WASM_THREADS } from "../src/engine/kernels/wasm-loader.js";
import { ALL_REDUCE_ALGORITHMS, DEFAULT_ALGORITHM, type AllReduceAlgorithm } from "../src/train/parallel/allreduce.js";
import { BENCH_NET_FLOATS, benchAllReduce, configGradientFloats, type AllReduceBenchRow } from "./allreduce.js";
import { benchFid } from "./fid.js";
import { benchLoraStep } from "./lora-step.js";
import { benchPretrain } from "./pretrain.js";
import { benchSampling, type SamplingBenchRow } from "./sampling.js";
import { benchStartup, type StartupRow } from "./startup.js";
import { BENCH_NET_GFLOP_PER_IMAGE, BenchWorker, ROOT, TRAIN_STEP_FLOP_FACTOR, median, startDiffxWorker } from "./train-step.js";

const PYTHON = "/usr/bin/python3";
const TORCH_SCRIPT = path.join(ROOT, "bench", "reference", "torch_unet.py");
const BENCH_CONFIG = path.join(ROOT, "configs", "bench.yaml");
/** The study's model; `--art-config` swaps in another (only to try the section out quickly: results.json still calls it art.yaml's). */
const ART_CONFIG = path.resolve(argValue("art-config") ?? path.join(ROOT, "configs", "art.yaml"));
const BATCH = 16;
const TORCH_THREADS = 2;
const SECTIONS = ["startup", "wasm", "torch", "cpu", "art", "sampling", "allreduce", "pretrain", "lora", "fid"] as const;
type Section = (typeof SECTIONS)[number];

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : undefined;
}

function intArg(name: string, fallback: number, min = 1): number {
  const v = Number(argValue(name) ?? fallback);
  if (!Number.isInteger(v) || v < min) throw new Error(`--${name} must be an integer ≥ ${min}`);
  return v;
}

const opts = {
  rounds: intArg("rounds", 3),
  reps: intArg("reps", 5),
  cpuForwardReps: intArg("cpu-forward-reps", 2),
  artReps: intArg("art-reps", 2),
  artWarmup: intArg("art-warmup", 1, 0),
  /** wasm threads for the art.yaml model: all CPUs unless told (a fixed count, not the load-dependent "auto"). */
  artThreads: intArg("art-threads", Math.min(MAX_WASM_THREADS, os.availableParallelism())),
  /** Minutes an art.yaml step may take before the section gives up on that backend (a hung step must not hang the bench). */
  artStepTimeoutMin: intArg("art-step-timeout", 60),
  sampleReps: intArg("sample-reps", 6),
  diffxSampleReps: intArg("diffx-sample-reps", 3),
  /** DDIM steps per sample (25; fewer only to try the bench out quickly). */
  sampleSteps: intArg("sample-steps", 25),
  /** wasm thread counts to time the bench network with ("auto" = the backend's default). */
  wasmThreads: (argValue("wasm-threads") ?? "auto").split(",").filter((t) => t === "auto" || Number(t) >= 1),
  allreduceRepeats: intArg("allreduce-repeats", 10),
  allreduceAlgorithms: argValue("allreduce-algorithms"),
  out: path.resolve(argValue("out") ?? path.join(ROOT, "bench", "results.json")),
  skip: new Set((argValue("skip") ?? "").split(",").filter((s) => s !== "")),
};
for (const s of opts.skip) if (!(SECTIONS as readonly string[]).includes(s)) throw new Error(`--skip: unknown section "${s}" (use ${SECTIONS.join(", ")})`);
const wanted = (s: Section): boolean => !opts.skip.has(s);

const notes: string[] = [];
/** Every worker process started, so that an error does not leave one running. */
const workers = new Set<BenchWorker>();
function track(w: BenchWorker): BenchWorker {
  workers.add(w);
  return w;
}
function log(line: string): void {
  console.log(line);
}
function note(line: string): void {
  notes.push(line);
  console.log(`note: ${line}`);
}

/** Times of one engine and one measurement, over all rounds. */
interface Series {
  ms: number[];
  /** Median of each round (the spread between rounds shows load changes). */
  roundMedians: number[];
}

function newSeries(): Series {
  return { ms: [], roundMedians: [] };
}

function addRound(s: Series, ms: number[]): void {
  s.ms.push(...ms);
  if (ms.length > 0) s.roundMedians.push(median(ms));
}

/** A function that adds a round's times to `s` and passes them on. */
function keep(s: Series): (ms: number[]) => number[] {
  return (ms) => {
    addRound(s, ms);
    return ms;
  };
}

function summary(s: Series | undefined): { median_ms: number; min_ms: number; max_ms: number; n: number; round_medians_ms: number[]; ms: number[] } | null {
  if (!s || s.ms.length === 0) return null;
  return { median_ms: median(s.ms), min_ms: Math.min(...s.ms), max_ms: Math.max(...s.ms), n: s.ms.length, round_medians_ms: s.roundMedians, ms: s.ms };
}

const fmt = (v: number | null | undefined, digits = 0): string => (v === null || v === undefined ? "–" : v.toFixed(digits));
const loadAvg = (): number[] => os.loadavg().map((v) => Math.round(v * 100) / 100);

// ---------------------------------------------------------------------------------------------
// PyTorch

interface TorchCheck {
  ok: boolean;
  version?: string;
  reason?: string;
}

function checkTorch(): TorchCheck {
  const r = spawnSync(PYTHON, ["-c", "import torch; print(torch.__version__)"], { encoding: "utf8" });
  if (r.error) return { ok: false, reason: `${PYTHON} cannot be run (${r.error.message})` };
  if (r.status !== 0) return { ok: false, reason: `${PYTHON} cannot import torch (${(r.stderr || "").trim().split("\n").pop() ?? ""})` };
  return { ok: true, version: r.stdout.trim() };
}

interface TorchVariant {
  name: string;
  worker: BenchWorker;
  info: Record<string, unknown>;
  forward: Series;
  train: Series;
  sample: Series;
}

async function startTorch(name: string, env: NodeJS.ProcessEnv): Promise<TorchVariant> {
  const worker = track(new BenchWorker(name, PYTHON, [TORCH_SCRIPT, "--serve", "--threads", String(TORCH_THREADS), "--batch", String(BATCH)], env, log));
  const info = await worker.ready;
  return { name, worker, info, forward: newSeries(), train: newSeries(), sample: newSeries() };
}

/** The faster torch variant's series for one measurement (by median). */
function bestTorch(variants: TorchVariant[], pick: (v: TorchVariant) => Series): { name: string; series: Series } | null {
  let best: { name: string; series: Series } | null = null;
  for (const v of variants) {
    const s = pick(v);
    if (s.ms.length === 0) continue;
    if (!best || median(s.ms) < median(best.series.ms)) best = { name: v.name, series: s };
  }
  return best;
}

// ---------------------------------------------------------------------------------------------

type DiffxTimes = { info: Record<string, unknown> | null; forward: Series; train: Series; error?: string };
type ArtTimes = { info: Record<string, unknown> | null; train: Series; warmup: number; threads: number | null; loadAtStep: number[]; error?: string };
/** The all-reduce section: bench/allreduce.ts's rows for the bench network's and art.yaml's gradient sizes. */
type AllReduceSection = { bench_floats: number; art_floats: number; rows: AllReduceBenchRow[] };
/** The art.yaml section: per backend run, and why the others were not. */
type ArtSection = { gflopPerImage: number | null; runs: Record<string, ArtTimes>; notRun: Record<string, string> };

/**
 * Bench-network cpu/wasm training-step ratio for projecting the art.yaml model onto cpu: measured
 * in this run when both were, else shared/ENGINE-NOTES.md's figures (cpu 62–74 s, wasm 1.7–2.0 s
 * per batch-16 step, idle machine: ≈ 37×).
 */
const NOTES_CPU_WASM_RATIO = { ratio: 68 / 1.85, source: "shared/ENGINE-NOTES.md (bench network, batch 16: cpu 62–74 s, wasm 1.7–2.0 s per step)" };

/** Run one section; an error is noted and the bench goes on with the next. */
async function section(name: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    note(`${name} failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

const roundLine = (ms: number[]): string => `median ${fmt(median(ms))} ms (${ms.map((v) => v.toFixed(0)).join(", ")})`;

async function main(): Promise<void> {
  const cpus = os.cpus();
  const machine = {
    cores: cpus.length,
    available_parallelism: os.availableParallelism(),
    cpu_model: cpus[0]?.model.trim() ?? "unknown",
    memory_gb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
  };
  const date = new Date().toISOString();
  const loadStart = loadAvg();
  log(`diffx bench · ${date} · ${machine.cores} cores (${machine.cpu_model}) · load average ${loadStart.join(" ")}`);
  if (loadStart[0] > machine.cores) note(`the machine was loaded at the start (1-min load ${loadStart[0]} on ${machine.cores} cores): all times are inflated, compare ratios rather than absolute ms`);

  const diffx: Record<string, DiffxTimes> = {};
  let torchVariants: TorchVariant[] = [];
  let art: ArtSection | null = null;
  const sampling: Record<string, { images_per_s: number; detail?: unknown }> = {};
  let allreduce: AllReduceSection | null = null;
  let pretrain: unknown = null;
  let lora: unknown = null;
  let fidBench: unknown = null;
  let startup: StartupRow[] | null = null;
  const benchGflopCounted = await countGflopPerImage(BENCH_CONFIG);
  const torch = wanted("torch") ? checkTorch() : { ok: false, reason: "skipped (--skip torch)" };
  if (!torch.ok) note(`PyTorch reference skipped: ${torch.reason ?? ""}`);
  /** results.json is rewritten after every section, so a killed bench leaves what it measured. */
  const save = (complete: boolean): Results => {
    const results = buildResults({ complete, date, machine, loadStart, loadEnd: loadAvg(), diffx, torchVariants, torchVersion: torch.version ?? null, art, benchGflopCounted, sampling, allreduce, pretrain, lora, fid: fidBench, startup });
    writeJsonAtomic(opts.out, results);
    return results;
  };

  try {
    // ---- 8. start-up times (first: the cheapest section)
    if (wanted("startup")) {
      await section("startup", async () => {
        const reps = intArg("startup-reps", 5);
        log(`\nstart-up: whole processes, median of ${reps} (wall and CPU = user + system of every node process)`);
        startup = benchStartup({ reps, log });
      });
      save(false);
    }

    // ---- 1. bench network: wasm vs torch, interleaved rounds
    await section("bench network (wasm vs torch)", async () => {
      if (torch.ok) {
        const defaultPolicy = process.env.OMP_WAIT_POLICY ? `OMP_WAIT_POLICY=${process.env.OMP_WAIT_POLICY}` : "OpenMP default wait";
        torchVariants = [await startTorch(`torch (${defaultPolicy})`, process.env)];
        if ((process.env.OMP_WAIT_POLICY ?? "").toUpperCase() !== "PASSIVE") torchVariants.push(await startTorch("torch (OMP_WAIT_POLICY=PASSIVE)", { ...process.env, OMP_WAIT_POLICY: "PASSIVE" }));
        const info = torchVariants[0].info;
        log(`PyTorch ${String(info.torch)}, ${String(info.threads)} threads, BLAS ${JSON.stringify(info.blas)}, matmul ${fmt(Number(info.matmul_gflop_per_s), 1)} GFLOP/s, ${String(info.params)} params, ${fmt(Number(info.forward_gflop_per_image), 4)} GFLOP/image`);
        const gf = Number(info.matmul_gflop_per_s);
        if (gf < 10) note(`torch's 1024² matmul ran at ${gf.toFixed(1)} GFLOP/s: probably Debian's reference BLAS (see bench/README.md, "BLAS"), which makes the comparison meaningless`);
      }
      type Runner = { label: string; forward: (r: number) => Promise<number[]>; train: (r: number) => Promise<number[]> };
      const runners: Runner[] = [];
      const wasmWorkers: BenchWorker[] = [];
      for (const threads of wanted("wasm") ? opts.wasmThreads : []) {
        const key = threads === "auto" ? "wasm" : `wasm-${threads}t`;
        const w = track(startDiffxWorker({ configFile: BENCH_CONFIG, backend: "wasm", threads: threads === "auto" ? "auto" : Number(threads), batch: BATCH, log }));
        let info: Record<string, unknown>;
        try {
          info = await w.ready;
        } catch (err) {
          diffx[key] = { info: null, forward: newSeries(), train: newSeries(), error: String(err) };
          note(`diffx ${key} could not start: ${String(err)}`);
          continue;
        }
        const d = { info, forward: newSeries(), train: newSeries() };
        diffx[key] = d;
        wasmWorkers.push(w);
        log(`diffx ${key}: ${String(info.params)} params, threads ${String(info.threads)}, simd ${String(info.simd)}, kernels ${JSON.stringify(info.kernels)}`);
        runners.push({
          label: `diffx ${key}`,
          forward: async (r) => keep(d.forward)(await w.run({ cmd: "forward", reps: opts.reps, warmup: r === 0 ? 1 : 0 })),
          train: async (r) => keep(d.train)(await w.run({ cmd: "train", reps: opts.reps, warmup: r === 0 ? 2 : 0, total: opts.reps * opts.rounds })),
        });
      }
      for (const v of torchVariants) {
        runners.push({
          label: v.name,
          forward: async (r) => keep(v.forward)(await v.worker.run({ cmd: "forward", reps: opts.reps, warmup: r === 0 ? 2 : 0 })),
          train: async (r) => keep(v.train)(await v.worker.run({ cmd: "train", reps: opts.reps, warmup: r === 0 ? 2 : 0 })),
        });
      }
      if (runners.length > 0) {
        log(`\nbench network, batch ${BATCH}: ${opts.rounds} interleaved rounds of ${opts.reps} forwards and ${opts.reps} training steps per engine`);
        for (let r = 0; r < opts.rounds; r++) {
          const order = r % 2 === 0 ? runners : [...runners].reverse();
          for (const what of ["forward", "train"] as const) {
            for (const run of order) {
              const ms = await run[what](r);
              log(`  round ${r + 1}/${opts.rounds} ${what.padEnd(7)} ${run.label.padEnd(34)} ${roundLine(ms)} (load ${loadAvg()[0]})`);
            }
          }
          save(false);
        }
      }
      for (const w of wasmWorkers) await w.close();
    });
    save(false);

    // ---- 2. sampling
    if (wanted("sampling")) {
      await section("sampling", async () => {
        log(`\nsampling: ${opts.sampleSteps} DDIM steps, 32×32, batch ${BATCH}`);
        if (opts.sampleSteps !== 25) note(`sampling used ${opts.sampleSteps} DDIM steps, not 25 (--sample-steps)`);
        const half = Math.max(1, Math.ceil(opts.sampleReps / 2));
        const torchSampleRound = async (): Promise<void> => {
          for (const v of torchVariants) {
            const ms = await v.worker.run({ cmd: "sample", reps: half, warmup: 0, steps: opts.sampleSteps });
            addRound(v.sample, ms);
            log(`  ${v.name.padEnd(34)} ${roundLine(ms)} per ${BATCH} images`);
          }
        };
        const torchSampling = (): void => {
          const best = bestTorch(torchVariants, (v) => v.sample);
          if (best) sampling.torch = { images_per_s: BATCH / (median(best.series.ms) / 1000), detail: { variant: best.name } };
        };
        await torchSampleRound();
        torchSampling();
        save(false);
        try {
          const rows = await benchSampling({ batch: BATCH, steps: opts.sampleSteps, resolution: 32, reps: opts.diffxSampleReps, log: (l: string) => log(`  diffx ${l.trim()}`) });
          Object.assign(sampling, samplingRates(rows));
        } catch (err) {
          note(`bench/sampling.ts benchSampling failed: ${String(err)}`);
        }
        save(false);
        await torchSampleRound();
        torchSampling();
      });
      save(false);
    }
    for (const v of torchVariants) await v.worker.close().catch(() => v.worker.kill());

    // ---- 3. all-reduce
    if (wanted("allreduce")) {
      await section("all-reduce", async () => {
        const artFloats = configGradientFloats(ART_CONFIG, 256);
        const algorithms = opts.allreduceAlgorithms ? opts.allreduceAlgorithms.split(",").map(allReduceAlgorithm) : [DEFAULT_ALGORITHM];
        log(`\nall-reduce: ${algorithms.join(", ")}; ${BENCH_NET_FLOATS} (bench) and ${artFloats} (art.yaml) floats; 2 and 4 workers; median of ${opts.allreduceRepeats}`);
        const rows = await benchAllReduce([BENCH_NET_FLOATS, artFloats], [2, 4], { algorithms, repeats: opts.allreduceRepeats });
        allreduce = { bench_floats: BENCH_NET_FLOATS, art_floats: artFloats, rows };
      });
      save(false);
    }

    // ---- 3b. pretraining steps/s (configs/pretrain-*.yaml)
    if (wanted("pretrain")) {
      await section("pretrain", async () => {
        const steps = intArg("pretrain-steps", 200);
        log(`\npretraining: diffx pretrain configs/pretrain-*.yaml, ${steps} steps each`);
        pretrain = benchPretrain({ steps, log });
      });
      save(false);
    }

    // ---- 3c. a LoRA training step vs a full fine-tuning step (bench/lora-step.ts, issue 15)
    if (wanted("lora")) {
      await section("lora", async () => {
        log("\nLoRA vs full fine-tuning: bench network training step (onnxruntime gradients + host AdamW/EMA), batch 16");
        lora = await benchLoraStep({ rounds: opts.rounds, reps: opts.reps, log });
      });
      save(false);
    }

    // ---- 3d. FID at Inception's width (bench/fid.ts)
    if (wanted("fid")) {
      await section("fid", async () => {
        log("\nFID: diffx's exact FID beside scipy's np.cov + sqrtm (pytorch-fid's path)");
        fidBench = benchFid({ n: intArg("fid-n", 10000), d: intArg("fid-d", 2048), log });
      });
      save(false);
    }

    // ---- 4. bench network on the cpu backend
    if (wanted("cpu")) {
      log(`\nbench network on the pure-JS cpu backend: 1 warm-up + ${opts.cpuForwardReps} timed forwards, ONE training step (no warm-up step)`);
      const d: DiffxTimes = { info: null, forward: newSeries(), train: newSeries() };
      diffx.cpu = d;
      const cpu = track(startDiffxWorker({ configFile: BENCH_CONFIG, backend: "cpu", batch: BATCH, log }));
      await section("cpu backend", async () => {
        try {
          d.info = await cpu.ready;
          addRound(d.forward, await cpu.run({ cmd: "forward", reps: opts.cpuForwardReps, warmup: 1 }));
          log(`  cpu forward: ${roundLine(d.forward.ms)}`);
          save(false);
          addRound(d.train, await cpu.run({ cmd: "train", reps: 1, warmup: 0 }));
          log(`  cpu training step: ${d.train.ms.map((v) => v.toFixed(0)).join(", ")} ms`);
          note(`cpu backend: forward is the median of ${opts.cpuForwardReps} passes after 1 warm-up; the training step is a single step (the loop's first), not a median`);
        } catch (err) {
          d.error = String(err);
          throw err;
        } finally {
          await cpu.close().catch(() => cpu.kill());
        }
      });
      save(false);
    }

    // ---- 5. configs/art.yaml model, training step on each usable backend (last: the longest)
    if (wanted("art")) {
      if (argValue("art-config") !== undefined) note(`the art section ran ${path.relative(ROOT, ART_CONFIG)} instead of configs/art.yaml (--art-config): a try-out, not the study's figure`);
      const a: ArtSection = { gflopPerImage: await countGflopPerImage(ART_CONFIG), runs: {}, notRun: {} };
      art = a;
      const tensorflow = (await probeBackends()).find((p) => p.name === "tensorflow");
      const backends: ("tensorflow" | "wasm" | "cpu")[] = [];
      if (tensorflow?.usable) backends.push("tensorflow");
      else a.notRun.tensorflow = `not run: not available here (${tensorflow?.reason ?? "no probe result"})`;
      backends.push("wasm"); // always there (--skip wasm skips the bench network's wasm rounds only)
      // With onnxruntime computing the gradients (engine.gradients auto on cpu), a cpu-backend step
      // no longer runs tfjs's pure-JS kernels for the network: it is timed like the others.
      const cpuGradients = chooseGradientEngine(loadConfig(ART_CONFIG).config.engine.gradients, "cpu");
      if (cpuGradients.engine === "onnx") backends.push("cpu");
      for (const backend of backends) {
        const threads = backend === "wasm" ? opts.artThreads : null;
        log(`\nconfigs/art.yaml model at batch ${BATCH} on ${backend}${threads === null ? "" : ` (${threads} threads)`}: ${opts.artWarmup} warm-up step(s), then ${opts.artReps} timed steps (load ${loadAvg().join(" ")})`);
        const t: ArtTimes = { info: null, train: newSeries(), warmup: opts.artWarmup, threads, loadAtStep: [] };
        a.runs[backend] = t;
        const w = track(startDiffxWorker({ configFile: ART_CONFIG, backend, threads: threads ?? "auto", batch: BATCH, withForward: false, log }));
        await section(`art.yaml model on ${backend}`, async () => {
          try {
            t.info = await w.ready;
            t.threads = typeof t.info.threads === "number" ? t.info.threads : t.threads;
            const warnings = Array.isArray(t.info.warnings) ? t.info.warnings.map(String) : [];
            for (const warning of warnings) note(`art.yaml on ${backend}: ${warning}`);
            log(`  ${String(t.info.params)} params, ${fmt(a.gflopPerImage, 1)} GFLOP/image forward (text vocabulary of the synthetic captions: 256 tokens), ${String(t.info.threads)} thread(s), gradients: ${String(t.info.gradients)} (${String(t.info.gradientsReason)})`);
            // one step per round, so each step is reported (and saved) as soon as it is done
            for (let k = 0; k < opts.artReps; k++) {
              const limitMs = opts.artStepTimeoutMin * 60_000 * (k === 0 ? 1 + opts.artWarmup : 1);
              let timer: NodeJS.Timeout | undefined;
              const timeout = new Promise<never>((_, reject) => {
                timer = setTimeout(() => reject(new Error(`step ${k + 1} did not finish within ${(limitMs / 60_000).toFixed(0)} min (--art-step-timeout ${opts.artStepTimeoutMin} per step): stopped`)), limitMs);
              });
              const ms = await Promise.race([w.run({ cmd: "train", reps: 1, warmup: k === 0 ? opts.artWarmup : 0, total: opts.artReps }), timeout]).finally(() => clearTimeout(timer));
              addRound(t.train, ms);
              t.loadAtStep.push(loadAvg()[0]);
              log(`  art training step ${k + 1}/${opts.artReps}: ${ms.map((v) => v.toFixed(0)).join(", ")} ms (load ${loadAvg().join(" ")})`);
              save(false);
            }
          } catch (err) {
            t.error = String(err);
            throw err;
          } finally {
            if (t.error) w.kill();
            else await w.close().catch(() => w.kill());
          }
        });
        save(false);
      }
      if (!a.runs.cpu) {
        a.notRun.cpu = cpuProjection(diffx, a.runs.wasm);
        note(`art.yaml on cpu ${a.notRun.cpu}`);
      }
      if (a.notRun.tensorflow) note(`art.yaml on tensorflow ${a.notRun.tensorflow}`);
    }

    // ---- results
    const results = save(true);
    printTable(results);
    log(`\nwrote ${path.relative(process.cwd(), opts.out)}`);
  } finally {
    for (const w of workers) await w.close().catch(() => w.kill());
  }
}

/**
 * Why the art.yaml model is not timed on the pure-JS cpu backend, with the time a step would
 * take: the wasm step of this run (or, when it failed, nothing to scale) times the bench
 * network's cpu/wasm step ratio — measured in this run when both were, else ENGINE-NOTES'.
 */
function cpuProjection(diffx: Record<string, DiffxTimes>, wasmArt: ArtTimes | undefined): string {
  const cpuStep = diffx.cpu?.train.ms ?? [];
  const wasmStep = diffx.wasm?.train.ms ?? [];
  const measured = cpuStep.length > 0 && wasmStep.length > 0;
  const ratio = measured ? median(cpuStep) / median(wasmStep) : NOTES_CPU_WASM_RATIO.ratio;
  const source = measured
    ? `the bench network's cpu/wasm step ratio measured in this run (${fmt(median(cpuStep))} / ${fmt(median(wasmStep))} ms = ${ratio.toFixed(1)}×)`
    : `the bench network's cpu/wasm step ratio of ${NOTES_CPU_WASM_RATIO.source} = ${ratio.toFixed(0)}× (not measured in this run)`;
  const wasmMs = wasmArt && wasmArt.train.ms.length > 0 ? median(wasmArt.train.ms) : null;
  if (wasmMs === null) return `not run: the pure-JS backend is ≈ ${ratio.toFixed(0)}× slower than wasm per step (${source}), i.e. hours per art.yaml step; no wasm art.yaml step was measured to project from`;
  return `not run: projected ${fmt((wasmMs * ratio) / 60_000, 1)} min/step from ${source} applied to the wasm art.yaml step of ${fmt(wasmMs)} ms`;
}

/**
 * Forward GFLOP per image of a config's model (2 × multiply-adds of conv, linear, matmul),
 * counted by the shape-only interpreter (src/nn/shape-ops.ts). The text vocabulary is taken as
 * 256 tokens, as in the art section.
 */
async function countGflopPerImage(configFile: string): Promise<number | null> {
  const { config } = loadConfig(configFile);
  const m = config.model;
  const ops = new ShapeOps(new Map(modelParamSpecs(m, 256).map((p) => [p.name, p.shape])));
  const R = m.resolution;
  forward(ops, m, { x: [1, R, R, 3], t: [1], cond: [1], tokens: [1, m.max_tokens], sketch: [1, R, R, 1] });
  return ops.flops / 1e9;
}

/** An --allreduce-algorithms name, checked. */
function allReduceAlgorithm(name: string): AllReduceAlgorithm {
  const known = ALL_REDUCE_ALGORITHMS.find((a) => a === name);
  if (!known) throw new Error(`--allreduce-algorithms: unknown algorithm ${name} (${ALL_REDUCE_ALGORITHMS.join(", ")})`);
  return known;
}

/** `{engine: images/s}` from benchSampling's rows, keyed "tfjs", "onnx" (the full engine name, e.g. "onnx-cpu", stays in the detail). */
function samplingRates(rows: SamplingBenchRow[]): Record<string, { images_per_s: number; detail: SamplingBenchRow }> {
  return Object.fromEntries(rows.map((row) => [row.engine.split("-")[0], { images_per_s: row.imagesPerSecond, detail: row }]));
}

// ---------------------------------------------------------------------------------------------

interface BuildInput {
  /** false while the bench is still running (results.json is rewritten after every section). */
  complete: boolean;
  date: string;
  machine: Record<string, unknown>;
  loadStart: number[];
  loadEnd: number[];
  diffx: Record<string, DiffxTimes>;
  torchVariants: TorchVariant[];
  torchVersion: string | null;
  art: ArtSection | null;
  benchGflopCounted: number | null;
  sampling: Record<string, { images_per_s: number; detail?: unknown }>;
  allreduce: AllReduceSection | null;
  pretrain: unknown;
  lora: unknown;
  fid: unknown;
  startup: StartupRow[] | null;
}

type Results = ReturnType<typeof buildResults>;

function buildResults(b: BuildInput) {
  const fwdGflop = BENCH_NET_GFLOP_PER_IMAGE * BATCH;
  const stepGflop = fwdGflop * TRAIN_STEP_FLOP_FACTOR;
  const forward_ms: Record<string, number> = {};
  const train_step_ms: Record<string, number> = {};
  for (const [backend, d] of Object.entries(b.diffx)) {
    if (d.forward.ms.length) forward_ms[backend] = median(d.forward.ms);
    if (d.train.ms.length) train_step_ms[backend] = median(d.train.ms);
  }
  const torchFwd = bestTorch(b.torchVariants, (v) => v.forward);
  const torchTrain = bestTorch(b.torchVariants, (v) => v.train);
  if (torchFwd) forward_ms.torch = median(torchFwd.series.ms);
  if (torchTrain) train_step_ms.torch = median(torchTrain.series.ms);
  const ratio = (table: Record<string, number>): Record<string, number> =>
    Object.fromEntries(Object.entries(table).filter(([k]) => k !== "torch" && table.torch !== undefined).map(([k, v]) => [k, v / table.torch]));
  const gflops = (table: Record<string, number>, gflop: number): Record<string, number> => Object.fromEntries(Object.entries(table).map(([k, v]) => [k, gflop / (v / 1000)]));
  const sample_images_per_s: Record<string, number> = Object.fromEntries(Object.entries(b.sampling).map(([k, v]) => [k, v.images_per_s]));
  const allreduce_ms = allreduceTable(b.allreduce);
  const art_train_step_ms: Record<string, number> = {};
  const artGflops: Record<string, number> = {};
  for (const [k, r] of Object.entries(b.art?.runs ?? {})) {
    if (r.train.ms.length === 0) continue;
    art_train_step_ms[k] = median(r.train.ms);
    if (b.art?.gflopPerImage != null) artGflops[k] = (b.art.gflopPerImage * BATCH * TRAIN_STEP_FLOP_FACTOR) / (art_train_step_ms[k] / 1000);
  }
  return {
    format: "diffx-bench/1",
    complete: b.complete,
    date: b.date,
    machine: b.machine,
    load_average: { start: b.loadStart, end: b.loadEnd, note: "1, 5 and 15 minute load averages (os.loadavg)" },
    network: { config: "configs/bench.yaml", reference: "bench/reference/torch_unet.py", params: 1_373_155, gflop_per_image_forward: BENCH_NET_GFLOP_PER_IMAGE, gflop_per_image_counted: b.benchGflopCounted, train_step_flop_factor: TRAIN_STEP_FLOP_FACTOR, batch: BATCH },
    forward_ms,
    train_step_ms,
    ratio_to_torch: { forward: ratio(forward_ms), train_step: ratio(train_step_ms) },
    gflop_per_s: { forward: gflops(forward_ms, fwdGflop), train_step: gflops(train_step_ms, stepGflop) },
    art_train_step_ms,
    art_not_run: b.art ? b.art.notRun : {},
    art_model: b.art
      ? {
          config: "configs/art.yaml",
          params: Object.values(b.art.runs).find((r) => r.info)?.info?.params ?? null,
          batch: BATCH,
          gflop_per_image_forward: b.art.gflopPerImage,
          threads: Object.fromEntries(Object.entries(b.art.runs).map(([k, r]) => [k, r.threads])),
          train_step_gflop_per_s: artGflops,
        }
      : null,
    sample_images_per_s,
    allreduce_ms,
    lora_step_ms: Array.isArray(b.lora) ? Object.fromEntries((b.lora as { variant: string; step_ms: number }[]).map((r) => [r.variant, r.step_ms])) : {},
    fid_s: b.fid && typeof b.fid === "object" ? { diffx: (b.fid as { diffx_s: number }).diffx_s, scipy: (b.fid as { scipy_s: number | null }).scipy_s } : {},
    startup_ms: Object.fromEntries((b.startup ?? []).map((r) => [r.command, { wall: r.wall_ms, cpu: r.cpu_ms }])),
    pretrain_steps_per_s: Array.isArray(b.pretrain) ? Object.fromEntries((b.pretrain as { config: string; steps_per_s: number | null }[]).map((r) => [r.config, r.steps_per_s])) : {},
    notes,
    details: {
      diffx: Object.fromEntries(Object.entries(b.diffx).map(([k, d]) => [k, { info: d.info, forward: summary(d.forward), train_step: summary(d.train), error: d.error }])),
      torch: {
        version: b.torchVersion,
        threads: TORCH_THREADS,
        chosen: { forward: torchFwd?.name ?? null, train_step: torchTrain?.name ?? null },
        variants: b.torchVariants.map((v) => ({ name: v.name, info: v.info, forward: summary(v.forward), train_step: summary(v.train), sample: summary(v.sample) })),
      },
      art: b.art
        ? Object.fromEntries(Object.entries(b.art.runs).map(([k, r]) => [k, { info: r.info, threads: r.threads, warmup_steps: r.warmup, train_step: summary(r.train), load_1min_after_step: r.loadAtStep, error: r.error }]))
        : null,
      sampling: b.sampling,
      allreduce: b.allreduce,
      pretrain: b.pretrain,
      lora: b.lora,
      fid: b.fid,
      startup: b.startup,
    },
  };
}

/** `{bench: {"2": ms, "4": ms}, art: {…}, algorithm}` from bench/allreduce.ts rows (first algorithm listed per size). */
function allreduceTable(a: AllReduceSection | null): Record<string, unknown> {
  if (!a) return {};
  const out: Record<string, Record<string, Record<string, number>>> = {};
  for (const r of a.rows) {
    const size = r.floats === a.bench_floats ? "bench" : r.floats === a.art_floats ? "art" : String(r.floats);
    ((out[r.algorithm] ??= {})[size] ??= {})[String(r.workers)] = r.medianMs;
  }
  return { ...out, floats: { bench: a.bench_floats, art: a.art_floats } };
}

function printTable(r: Results): void {
  const fwdGflop = BENCH_NET_GFLOP_PER_IMAGE * BATCH;
  const d = r.details;
  const line = (label: string, f: ReturnType<typeof summary>, t: ReturnType<typeof summary>, fr: number | undefined, tr: number | undefined): string => {
    const cell = (s: ReturnType<typeof summary>, gflop: number, ratioV: number | undefined): string =>
      s ? `${fmt(s.median_ms).padStart(7)} (${fmt(s.min_ms)}–${fmt(s.max_ms)}, n ${s.n})`.padEnd(30) + `${fmt(gflop / (s.median_ms / 1000), 1).padStart(6)} ${ratioV === undefined ? "    –" : `${ratioV.toFixed(2)}×`.padStart(7)}` : `${"–".padStart(7)}`.padEnd(30) + "     –       –";
    return `${label.padEnd(36)}${cell(f, fwdGflop, fr)}   ${cell(t, fwdGflop * TRAIN_STEP_FLOP_FACTOR, tr)}`;
  };
  log(`\n=== diffx bench, ${r.date}, ${String(r.machine.cores)} cores (${String(r.machine.cpu_model)}), load average ${r.load_average.start.join(" ")} → ${r.load_average.end.join(" ")}`);
  log(`bench network (configs/bench.yaml = bench/reference/torch_unet.py): 1,373,155 params, ${BENCH_NET_GFLOP_PER_IMAGE} GFLOP/image forward, batch ${BATCH}; step ≈ ${TRAIN_STEP_FLOP_FACTOR}× forward`);
  log(`${"".padEnd(36)}${"forward ms (min–max, n)".padEnd(30)}GFLOP/s ÷torch   ${"train step ms (min–max, n)".padEnd(30)}GFLOP/s ÷torch`);
  for (const v of d.torch.variants) log(line(v.name, v.forward, v.train_step, undefined, undefined));
  for (const [backend, x] of Object.entries(d.diffx)) {
    const threads = x.info ? ` (${String(x.info.threads)} thr)` : "";
    log(line(`diffx ${backend}${threads}`, x.forward, x.train_step, r.ratio_to_torch.forward[backend], r.ratio_to_torch.train_step[backend]));
  }
  if (d.torch.variants.length) log(`÷torch = diffx median / the faster torch variant's median (forward: ${d.torch.chosen.forward ?? "–"}; step: ${d.torch.chosen.train_step ?? "–"})`);
  if (d.art && r.art_model) {
    const a = r.art_model;
    const flops = a.gflop_per_image_forward !== null ? `, ${fmt(a.gflop_per_image_forward, 1)} GFLOP/image forward` : "";
    log(`\nconfigs/art.yaml model (${String(a.params ?? "?")} params, 64×64, text${flops}), batch ${BATCH}, training step:`);
    for (const [backend, x] of Object.entries(d.art)) {
      const s = x.train_step;
      const rate = r.art_model.train_step_gflop_per_s[backend];
      const gradients = typeof x.info?.gradients === "string" ? `, ${x.info.gradients} gradients` : "";
      const threads = x.threads === null ? "" : ` (${x.threads} thr${gradients})`;
      log(`  ${`${backend}${threads}`.padEnd(18)}${s ? `${fmt(s.median_ms)} ms per step (min ${fmt(s.min_ms)}, max ${fmt(s.max_ms)}, n ${s.n} after ${x.warmup_steps} warm-up; 1-min load after each: ${x.load_1min_after_step.join(", ")})${rate === undefined ? "" : `, ${fmt(rate, 1)} GFLOP/s`}` : `not measured (${x.error ?? "?"})`}`);
    }
    for (const [backend, why] of Object.entries(r.art_not_run)) log(`  ${backend.padEnd(18)}${why}`);
  }
  if (Object.keys(r.sample_images_per_s).length) {
    log(`\nsampling, ${opts.sampleSteps} DDIM steps, 32×32, batch ${BATCH}        images/s   ×torch`);
    const torchRate = r.sample_images_per_s.torch;
    for (const [engine, rate] of Object.entries(r.sample_images_per_s)) {
      log(`  ${engine.padEnd(46)}${rate.toFixed(2).padStart(8)}   ${torchRate && engine !== "torch" ? `${(rate / torchRate).toFixed(2)}×` : ""}`);
    }
  }
  const ar = r.allreduce_ms;
  const algos = Object.keys(ar).filter((k) => k !== "floats");
  if (algos.length) {
    const floats = ar.floats as { bench?: number; art?: number };
    log(`\nall-reduce, median ms per call            2 workers   4 workers`);
    for (const algo of algos) {
      const bySize = ar[algo] as Record<string, Record<string, number>>;
      for (const [size, byWorkers] of Object.entries(bySize)) {
        const n = size === "bench" ? floats.bench : size === "art" ? floats.art : Number(size);
        log(`  ${`${algo}, ${size} (${String(n)} floats)`.padEnd(40)}${fmt(byWorkers["2"], 1).padStart(9)}   ${fmt(byWorkers["4"], 1).padStart(9)}`);
      }
    }
  }
  const startupRows = Object.entries(r.startup_ms);
  if (startupRows.length) {
    log(`\nstart-up, median of whole processes              wall ms    CPU ms`);
    for (const [command, t] of startupRows) log(`  ${command.padEnd(46)}${fmt(t.wall).padStart(9)}${fmt(t.cpu).padStart(10)}`);
  }
  if (r.notes.length) log(`\nnotes:\n${r.notes.map((n) => `- ${n}`).join("\n")}`);
}

await main();
