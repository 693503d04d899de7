/**
 * All-reduce benchmark: how long AllReduce.average() takes for a gradient of the bench network
 * (1,373,155 floats) and of the configs/art.yaml model, with 2 and 4 worker processes, for each
 * algorithm (ring, star, shm). Median of ≥ 10 timed calls after 2 warm-up calls; a 1-float average
 * before each timed call lines the ranks up.
 *
 *   node --import tsx bench/allreduce.ts [--workers 2,4] [--repeats 10] [--algorithms ring,star,shm]
 *                                        [--sizes 1373155,…] [--vocab 256]
 *
 * GB/s is algorithm bandwidth: gradient bytes / time. Bus bandwidth (NCCL's busbw) multiplies
 * it by 2·(N−1)/N, the bytes every rank must move in an optimal all-reduce.
 *
 * `benchAllReduce(sizes, workers)` returns the numbers for `npm run bench`. This file is also
 * the worker script: run by the pool (DIFFX_RANK set), it times the calls instead.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../src/config/load.js";
import { Rng } from "../src/engine/rng.js";
import { countParams, modelParamSpecs } from "../src/model/model.js";
import { AllReduce, DEFAULT_ALGORITHM, type AllReduceAlgorithm } from "../src/train/parallel/allreduce.js";
import { resolveDevices } from "../src/train/parallel/devices.js";
import { startWorkers } from "../src/train/parallel/pool.js";
import { runWorker } from "../src/train/parallel/worker.js";

const THIS_FILE = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(THIS_FILE), "..");

/** Gradient size of the bench network (configs/bench.yaml, ENGINE-NOTES.md). */
export const BENCH_NET_FLOATS = 1_373_155;

export interface AllReduceBenchRow {
  floats: number;
  workers: number;
  algorithm: AllReduceAlgorithm;
  /** Median time of one average() call. */
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** Gradient bytes / median time. */
  gbPerS: number;
  /** gbPerS · 2(N−1)/N: what every rank moves per second. */
  busGbPerS: number;
  /** Median over calls of the CPU time (user + system) all ranks together spent in one call. */
  cpuMs: number;
  repeats: number;
}

export interface BenchAllReduceOptions {
  algorithms?: AllReduceAlgorithm[];
  /** Timed calls per case (≥ 10 recommended). */
  repeats?: number;
  warmup?: number;
}

interface WorkerJob {
  sizes: number[];
  algorithms: AllReduceAlgorithm[];
  repeats: number;
  warmup: number;
}

interface WorkerTimes {
  algorithm: AllReduceAlgorithm;
  floats: number;
  times: number[];
  /** CPU ms (user + system) of this rank per timed call. */
  cpu: number[];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * The gradient size (number of float32 parameters) of a config's model. The text encoder's
 * embedding depends on the vocabulary built from the dataset's captions; `vocabSize` stands in
 * for it (it adds vocabSize × text_dim floats, ≈ 0.1 % of the art model).
 */
export function configGradientFloats(configFile: string, vocabSize = 256): number {
  const { config } = loadConfig(configFile);
  return countParams(modelParamSpecs(config.model, vocabSize));
}

/** Time average() for every size × algorithm with each worker count. */
export async function benchAllReduce(sizes: number[], workers: number[], opts: BenchAllReduceOptions = {}): Promise<AllReduceBenchRow[]> {
  const job: WorkerJob = {
    sizes,
    algorithms: opts.algorithms ?? ["ring", "star", "shm"],
    repeats: Math.max(1, opts.repeats ?? 10),
    warmup: opts.warmup ?? 2,
  };
  const rows: AllReduceBenchRow[] = [];
  for (const n of workers) {
    // CPU workers: this measures the transport, not a device; allow more workers than cores
    const plan = resolveDevices(n, "cpu", Math.max(n, 1));
    const execArgv = process.execArgv.includes("tsx") || process.execArgv.some((a) => a.includes("tsx")) ? process.execArgv : ["--import", "tsx"];
    const pool = startWorkers({ script: THIS_FILE, args: ["--job", JSON.stringify(job)], workers: plan.workers, timeoutMs: 300_000, execArgv });
    const results = await pool.result;
    const perRank = results as WorkerTimes[][];
    for (const [k, t] of perRank[0].entries()) {
      const cpuPerCall = t.cpu.map((_, i) => perRank.reduce((sum, rankTimes) => sum + rankTimes[k].cpu[i], 0));
      const ms = median(t.times);
      const gb = (t.floats * 4) / (ms / 1000) / 1e9;
      rows.push({
        floats: t.floats,
        workers: n,
        algorithm: t.algorithm,
        medianMs: ms,
        minMs: Math.min(...t.times),
        maxMs: Math.max(...t.times),
        gbPerS: gb,
        busGbPerS: (gb * 2 * (n - 1)) / n,
        cpuMs: median(cpuPerCall),
        repeats: t.times.length,
      });
    }
  }
  return rows;
}

async function workerMain(): Promise<void> {
  await runWorker(async (ctx) => {
    const job = JSON.parse(process.argv[process.argv.indexOf("--job") + 1]) as WorkerJob;
    const out: WorkerTimes[] = [];
    const tick = new Float32Array(1);
    for (const [g, algorithm] of job.algorithms.entries()) {
      const dir = path.join(ctx.rendezvous, `group-${g}`);
      fs.mkdirSync(dir, { recursive: true });
      const group = await AllReduce.connect(ctx.rank, ctx.world, dir, 120_000, { algorithm });
      try {
        for (const floats of job.sizes) {
          const buf = new Rng(1, "bench-allreduce", ctx.rank).normals(floats);
          for (let i = 0; i < job.warmup; i++) await group.average(buf);
          const times: number[] = [];
          const cpu: number[] = [];
          for (let i = 0; i < job.repeats; i++) {
            await group.average(tick);
            const c0 = process.cpuUsage();
            const t0 = performance.now();
            await group.average(buf);
            times.push(performance.now() - t0);
            const c = process.cpuUsage(c0);
            cpu.push((c.user + c.system) / 1000);
          }
          out.push({ algorithm, floats, times, cpu });
        }
      } finally {
        group.close();
      }
    }
    return out;
  }, (code) => process.exit(code));
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function list(text: string | undefined, fallback: number[]): number[] {
  return text === undefined ? fallback : text.split(",").map(Number);
}

async function cliMain(): Promise<void> {
  const vocab = Number(argValue("vocab") ?? 256);
  const artFloats = configGradientFloats(path.join(ROOT, "configs", "art.yaml"), vocab);
  const sizes = list(argValue("sizes"), [BENCH_NET_FLOATS, artFloats]);
  const workers = list(argValue("workers"), [2, 4]);
  const repeats = Number(argValue("repeats") ?? 10);
  const algorithms = (argValue("algorithms") ?? "ring,star,shm").split(",") as AllReduceAlgorithm[];
  console.log(`all-reduce (AllReduce.average, float32, worker processes on this machine); default algorithm: ${DEFAULT_ALGORITHM}`);
  console.log(`sizes: bench net ${BENCH_NET_FLOATS} floats; configs/art.yaml model ${artFloats} floats (text vocabulary taken as ${vocab})`);
  console.log(`median of ${repeats} calls after 2 warm-up calls; GB/s = gradient bytes / time, bus = × 2(N−1)/N`);
  const rows = await benchAllReduce(sizes, workers, { algorithms, repeats });
  console.log("floats      workers  algorithm  median ms    min ms    max ms    GB/s   bus GB/s   CPU ms (all ranks)");
  for (const r of rows) {
    console.log(
      `${String(r.floats).padEnd(11)} ${String(r.workers).padStart(7)}  ${r.algorithm.padEnd(9)} ${r.medianMs.toFixed(1).padStart(10)} ${r.minMs.toFixed(1).padStart(9)} ${r.maxMs.toFixed(1).padStart(9)} ${r.gbPerS.toFixed(2).padStart(7)} ${r.busGbPerS.toFixed(2).padStart(10)} ${r.cpuMs.toFixed(1).padStart(10)}`,
    );
  }
}

const invokedAsScript = process.argv[1] !== undefined && path.resolve(process.argv[1]) === THIS_FILE;
if (invokedAsScript) {
  if (process.env.DIFFX_RANK !== undefined) await workerMain();
  else await cliMain();
}
