/**
 * diffx's side of `npm run bench`: forward and training-step times of a config's model on one
 * tfjs backend.
 *
 * The training step is the trainer's own: `trainLoop` from src/train/trainer.ts runs on an
 * in-memory training set of seeded random images (captions/sketches too when the model is
 * conditioned), so a timed step is exactly what `diffx train` does per step — seeded per-sample
 * draws, forward + backward of the diffusion loss, gradients to the host, global-norm clipping,
 * AdamW, EMA. A step's time is the interval between two of the loop's progress updates. The
 * forward is `forward()` of src/model/model.ts under `tf.tidy`, read back to the host.
 *
 * Rounds can be interleaved with another engine's (bench/run.ts does so with PyTorch): the loop
 * is held inside the gradient all-reduce (the trainer's `GradientReducer` hook, an identity with
 * one worker) between rounds, and the time it is held is not counted.
 *
 *   node --import tsx bench/train-step.ts [--config configs/bench.yaml] [--backend wasm|cpu]
 *        [--threads auto|N] [--batch 16] [--reps 10] [--warmup 2] [--forward-reps N] [--no-forward]
 *     prints a summary (median ms, spread, GFLOP/s for the bench network).
 *   … --serve
 *     worker for bench/run.ts: one JSON command per stdin line, one "@@bench {json}" line per
 *     answer (see `BenchWorker`).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as readline from "node:readline";
import { spawn, type ChildProcess } from "node:child_process";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs";
import { loadConfig } from "../src/config/load.js";
import type { Config } from "../src/config/schema.js";
import { initBackend, type BackendName } from "../src/engine/backend.js";
import type { ProgressSink } from "../src/engine/progress.js";
import { Rng } from "../src/engine/rng.js";
import { countParams, forward, initParams, modelParamSpecs } from "../src/model/model.js";
import { Tokenizer } from "../src/model/tokenizer.js";
import { TfjsOps, disposeTensors, paramTensors } from "../src/nn/tfjs-ops.js";
import { chooseGradientEngine, initSeed, trainLoop, type GradientReducer } from "../src/train/trainer.js";
import type { TrainingSet } from "../src/train/training-set.js";

const THIS_FILE = fileURLToPath(import.meta.url);
export const ROOT = path.resolve(path.dirname(THIS_FILE), "..");

/** Forward FLOPs of one 32×32 image through the bench network (ENGINE-NOTES.md; torch_unet.py counts 0.4955). */
export const BENCH_NET_GFLOP_PER_IMAGE = 0.496;
/** A training step (forward + backward) costs about three forwards. */
export const TRAIN_STEP_FLOP_FACTOR = 3;
/** Pairs in the synthetic training set (the art study's n). */
const SYNTHETIC_PAIRS = 60;
/** Caption vocabulary of the synthetic set: 3 special tokens + 253 words = 256 (as bench/allreduce.ts assumes). */
const SYNTHETIC_WORDS = 253;
/** Prefix of protocol lines on a worker's stdout (anything else there is passed on as log). */
export const REPLY_PREFIX = "@@bench ";

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** A config for timing: the file's model and diffusion, batch `batch`, nothing logged or saved while timing. */
export function benchConfig(file: string, batch: number, overrides: readonly string[] = []): Config {
  const never = 1_000_000_000;
  return loadConfig(file, [...overrides, `train.batch_size=${batch}`, `train.steps=${never}`, `train.checkpoint_every=${never}`, `train.eval_every=${never}`, `train.log_every=${never}`]).config;
}

/** Seeded random pairs at the model's resolution (the content does not change the time of a step). */
export function syntheticTrainingSet(config: Config): { data: TrainingSet; tokenizer: Tokenizer | null } {
  const R = config.model.resolution;
  const n = SYNTHETIC_PAIRS;
  const rng = new Rng(config.seed, "bench", "pairs");
  const images = new Float32Array(n * R * R * 3);
  for (let i = 0; i < images.length; i++) images[i] = rng.range(-1, 1);
  const sketches = config.model.conditioning === "sketch" ? Float32Array.from({ length: n * R * R }, () => rng.range(-1, 1)) : undefined;
  const words = Array.from({ length: SYNTHETIC_WORDS }, (_, i) => `w${i}`);
  const captions = Array.from({ length: n }, (_, i) => {
    const len = 8 + (i % 20);
    return [Array.from({ length: len }, (_, k) => words[(i * 31 + k * 17) % words.length]).join(" ")];
  });
  // every word appears at least once, so the vocabulary has exactly 3 + SYNTHETIC_WORDS tokens
  const tokenizer = config.model.conditioning === "text" ? Tokenizer.build([...captions.map((c) => c[0]), words.join(" ")]) : null;
  const ids = Array.from({ length: n }, (_, i) => `bench-${i}`);
  return { data: { n, images, sketches, captions, ids }, tokenizer };
}

function gradientEngine(config: Config): { gradients: string; gradientsReason: string } {
  const chosen = chooseGradientEngine(config.engine.gradients);
  return { gradients: chosen.engine, gradientsReason: chosen.reason };
}

// ---------------------------------------------------------------------------------------------
// The timing engine (runs inside the process that owns the tfjs backend)

export interface TimerOptions {
  configFile: string;
  backend: BackendName;
  threads: "auto" | number;
  batch: number;
  /** Build constant parameter tensors for forward timing (one more copy of the weights). */
  withForward: boolean;
  /** `--set`-style config overrides (`model.channels=[8,16]`), applied before the batch size. */
  overrides?: readonly string[];
}

export interface TimerInfo {
  config: string;
  backend: string;
  backendVersion: string;
  threads: number;
  simd: boolean | null;
  kernels: string[];
  warnings: string[];
  params: number;
  batch: number;
  resolution: number;
  conditioning: string;
  /** What computes loss and gradients in a training step (`engine.gradients`: tfjs or onnx), and why. */
  gradients: string;
  gradientsReason: string;
}

/**
 * Times forwards and training steps of one model on one backend. Training steps come from one
 * long-lived `trainLoop`; `train(reps)` lets it run `reps` more steps and holds it again.
 */
export class StepTimer {
  private readonly tmpDir: string;
  private loop: Promise<unknown> | null = null;
  private loopEnded = false;
  private closing = false;
  private quota = 0;
  private times: number[] = [];
  private lastMark = 0;
  private heldMs = 0;
  private release: (() => void) | null = null;
  private roundDone: ((times: number[]) => void) | null = null;
  private roundFailed: ((err: unknown) => void) | null = null;
  private forwardParams: Map<string, tf.Tensor> | null = null;
  private forwardInputs: { x: tf.Tensor; t: tf.Tensor; cond: tf.Tensor; tokens?: tf.Tensor; sketch?: tf.Tensor } | null = null;

  private constructor(
    readonly info: TimerInfo,
    private readonly config: Config,
    private readonly data: TrainingSet,
    private readonly tokenizer: Tokenizer | null,
  ) {
    this.tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), "diffx-bench-"));
  }

  static async create(o: TimerOptions): Promise<StepTimer> {
    const report = await initBackend(o.backend, { threads: o.threads });
    const config = benchConfig(o.configFile, o.batch, o.overrides);
    const { data, tokenizer } = syntheticTrainingSet(config);
    const specs = modelParamSpecs(config.model, tokenizer ? tokenizer.size : 0);
    const info: TimerInfo = {
      config: path.relative(ROOT, path.resolve(o.configFile)),
      backend: report.name,
      backendVersion: report.version,
      threads: report.threads,
      simd: report.simd ?? null,
      kernels: report.kernels ?? [],
      warnings: report.warnings,
      params: countParams(specs),
      batch: o.batch,
      resolution: config.model.resolution,
      conditioning: config.model.conditioning,
      ...gradientEngine(config),
    };
    const timer = new StepTimer(info, config, data, tokenizer);
    if (o.withForward) timer.prepareForward();
    return timer;
  }

  /** Constant weights and a fixed input batch for forward timing, made before training starts (the trainer checks that the tensor count stays flat). */
  private prepareForward(): void {
    const { model } = this.config;
    const specs = modelParamSpecs(model, this.tokenizer ? this.tokenizer.size : 0);
    this.forwardParams = paramTensors(initParams(specs, initSeed(this.config.seed)));
    const B = this.info.batch;
    const R = model.resolution;
    const rng = new Rng(this.config.seed, "bench", "forward");
    const tokens = this.tokenizer ? new Int32Array(B * model.max_tokens) : null;
    if (tokens && this.tokenizer) for (let b = 0; b < B; b++) tokens.set(this.tokenizer.encode(this.data.captions[b % this.data.n][0], model.max_tokens), b * model.max_tokens);
    this.forwardInputs = {
      x: tf.tensor(rng.normals(B * R * R * 3), [B, R, R, 3]),
      t: tf.tensor(Float32Array.from({ length: B }, () => Math.floor(rng.range(0, this.config.diffusion.timesteps))), [B]),
      cond: tf.ones([B]),
      tokens: tokens ? tf.tensor(tokens, [B, model.max_tokens], "int32") : undefined,
      sketch: model.conditioning === "sketch" ? tf.tensor(Float32Array.from({ length: B * R * R }, () => rng.range(-1, 1)), [B, R, R, 1]) : undefined,
    };
  }

  /** ms of each of `reps` forwards after `warmup` untimed ones (output read back to the host). */
  forward(reps: number, warmup: number): number[] {
    const params = this.forwardParams;
    const inputs = this.forwardInputs;
    if (!params || !inputs) throw new Error("this timer was made without forward timing (--no-forward)");
    const ops = new TfjsOps(params);
    const once = (): number => {
      const t0 = performance.now();
      const out = tf.tidy(() => forward(ops, this.config.model, inputs));
      out.dataSync();
      const ms = performance.now() - t0;
      out.dispose();
      return ms;
    };
    for (let i = 0; i < warmup; i++) once();
    return Array.from({ length: reps }, once);
  }

  /**
   * ms of each of the next `reps` training steps. The first call starts the loop: `warmup`
   * untimed steps, then `total` timed steps in all (over this and later calls; default `reps`),
   * after which the loop ends by itself (no step is left half done).
   */
  train(reps: number, warmup: number, total = reps): Promise<number[]> {
    if (this.roundDone) throw new Error("a training round is already running");
    if (this.loopEnded) throw new Error("the training loop has ended: it ran the total number of steps asked for when it started");
    const done = new Promise<number[]>((resolve, reject) => {
      this.roundDone = resolve;
      this.roundFailed = reject;
    });
    this.times = [];
    this.quota = reps;
    if (!this.loop) {
      if (total < reps) throw new Error(`total (${total}) must be at least reps (${reps})`);
      this.startLoop(warmup, warmup + total);
    } else {
      const go = this.release;
      this.release = null;
      go?.();
    }
    return done;
  }

  private finishRound(): void {
    const resolve = this.roundDone;
    this.roundDone = null;
    this.roundFailed = null;
    resolve?.(this.times.slice());
  }

  private startLoop(warmup: number, stopAt: number): void {
    let warm = warmup;
    const progress: ProgressSink = {
      start: () => {},
      update: (step) => {
        const now = performance.now();
        if (step > 0) {
          const ms = now - this.lastMark - this.heldMs;
          if (warm > 0) warm -= 1;
          else {
            this.times.push(ms);
            this.quota -= 1;
          }
        }
        this.heldMs = 0;
        this.lastMark = now;
      },
      stop: () => {},
      info: () => {},
      warn: () => {},
    };
    // Held here, mid-step (after forward + backward), between rounds: that part of the step ran
    // right after the previous one, before the round was reported, so nothing overlaps the
    // other engine's round; the held time is subtracted.
    const reducer: GradientReducer = {
      rank: 0,
      world: 1,
      average: async () => {
        if (this.quota > 0 || this.closing) return;
        const t0 = performance.now();
        const held = new Promise<void>((resolve) => (this.release = resolve));
        this.finishRound();
        await held;
        this.heldMs += performance.now() - t0;
      },
    };
    this.loop = trainLoop({
      runDir: this.tmpDir,
      config: this.config,
      data: this.data,
      tokenizer: this.tokenizer,
      resumeFrom: null,
      reducer,
      progress,
      stopAt,
    }).then(
      (result) => {
        this.loopEnded = true;
        this.finishRound();
        return result;
      },
      (err: unknown) => {
        this.loopEnded = true;
        const fail = this.roundFailed;
        this.roundDone = null;
        this.roundFailed = null;
        if (fail) fail(err);
        else throw err;
      },
    );
  }

  /**
   * Free the forward tensors and the run folder. A loop still held between rounds is left
   * held (the process is about to exit); a running round is not waited for.
   */
  close(): void {
    this.closing = true;
    if (this.forwardParams) disposeTensors(this.forwardParams);
    if (this.forwardInputs) for (const t of Object.values(this.forwardInputs)) if (t) t.dispose();
    this.forwardParams = null;
    this.forwardInputs = null;
    fs.rmSync(this.tmpDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Worker processes (used by bench/run.ts for diffx and for the PyTorch reference)

export interface BenchCommand {
  cmd: "forward" | "train" | "sample" | "exit";
  reps?: number;
  warmup?: number;
  /** train, first command only: timed steps over all rounds (the loop then stops by itself). */
  total?: number;
  /** sample (PyTorch worker): DDIM steps per sample (default 25). */
  steps?: number;
}

/**
 * A benchmark worker process speaking the line protocol: JSON commands on stdin, answers as
 * `@@bench {json}` lines on stdout. Other stdout/stderr lines go to `log`.
 */
export class BenchWorker {
  private readonly waiting: ((reply: Record<string, unknown>) => void)[] = [];
  private exited: string | null = null;
  private readonly child: ChildProcess;
  readonly ready: Promise<Record<string, unknown>>;

  constructor(
    readonly label: string,
    command: string,
    args: string[],
    env: NodeJS.ProcessEnv,
    log: (line: string) => void,
  ) {
    this.child = spawn(command, args, { cwd: ROOT, env, stdio: ["pipe", "pipe", "pipe"] });
    const out = readline.createInterface({ input: this.child.stdout! });
    out.on("line", (line) => {
      if (line.startsWith(REPLY_PREFIX)) this.waiting.shift()?.(JSON.parse(line.slice(REPLY_PREFIX.length)) as Record<string, unknown>);
      else if (line.trim()) log(`[${label}] ${line}`);
    });
    readline.createInterface({ input: this.child.stderr! }).on("line", (line) => {
      if (line.trim()) log(`[${label}] ${line}`);
    });
    this.ready = this.next();
    this.child.on("exit", (code, signal) => {
      this.exited = `${label} exited (${signal ?? `code ${code}`})`;
      for (const w of this.waiting.splice(0)) w({ error: this.exited });
    });
  }

  private next(): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      if (this.exited) reject(new Error(this.exited));
      else
        this.waiting.push((reply) => {
          if (typeof reply.error === "string") reject(new Error(`${this.label}: ${reply.error}`));
          else resolve(reply);
        });
    });
  }

  /** Send a command and wait for its answer's `ms` list. */
  async run(command: BenchCommand): Promise<number[]> {
    await this.ready;
    const answer = this.next();
    this.child.stdin!.write(JSON.stringify(command) + "\n");
    const reply = await answer;
    const ms = reply.ms;
    if (!Array.isArray(ms) || !ms.every((v): v is number => typeof v === "number")) throw new Error(`${this.label}: bad answer ${JSON.stringify(reply)}`);
    return ms;
  }

  async close(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    const answer = this.next().catch(() => ({}));
    this.child.stdin!.write(JSON.stringify({ cmd: "exit" }) + "\n");
    await answer;
    await gone;
  }

  /** Stop the process now (on errors). */
  kill(): void {
    if (!this.exited) this.child.kill("SIGTERM");
  }
}

export interface DiffxWorkerOptions {
  configFile: string;
  backend: BackendName;
  threads?: "auto" | number;
  batch?: number;
  withForward?: boolean;
  log: (line: string) => void;
}

/** Start `bench/train-step.ts --serve` in a child process (one backend per process). */
export function startDiffxWorker(o: DiffxWorkerOptions): BenchWorker {
  const args = ["--import", "tsx", THIS_FILE, "--serve", "--config", o.configFile, "--backend", o.backend, "--threads", String(o.threads ?? "auto"), "--batch", String(o.batch ?? 16)];
  if (o.withForward === false) args.push("--no-forward");
  return new BenchWorker(`diffx ${o.backend} ${path.basename(o.configFile)}`, process.execPath, args, process.env, o.log);
}

// ---------------------------------------------------------------------------------------------
// Command line

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : undefined;
}

function reply(obj: unknown): void {
  process.stdout.write(REPLY_PREFIX + JSON.stringify(obj) + "\n");
}

async function serve(timer: StepTimer): Promise<void> {
  reply({ ready: true, ...timer.info });
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (!line.trim()) continue;
    const cmd = JSON.parse(line) as BenchCommand;
    try {
      if (cmd.cmd === "exit") break;
      if (cmd.cmd === "forward") reply({ cmd: "forward", ms: timer.forward(cmd.reps ?? 5, cmd.warmup ?? 0) });
      else if (cmd.cmd === "train") reply({ cmd: "train", ms: await timer.train(cmd.reps ?? 5, cmd.warmup ?? 0, cmd.total ?? cmd.reps ?? 5) });
      else reply({ error: `unknown command ${JSON.stringify(cmd.cmd)}` });
    } catch (err) {
      reply({ error: err instanceof Error ? err.message : String(err) });
    }
  }
  timer.close();
  reply({ bye: true });
  process.exit(0); // a training loop held between rounds would keep the process alive
}

function describe(label: string, ms: number[], gflop: number | null): string {
  const med = median(ms);
  const rate = gflop === null ? "" : `, ${(gflop / (med / 1000)).toFixed(1)} GFLOP/s`;
  return `${label}: median ${med.toFixed(1)} ms (min ${Math.min(...ms).toFixed(1)}, max ${Math.max(...ms).toFixed(1)}, n ${ms.length})${rate}`;
}

async function cliMain(): Promise<void> {
  const configFile = argValue("config") ?? path.join(ROOT, "configs", "bench.yaml");
  const backend = (argValue("backend") ?? "wasm") as BackendName;
  const threadsArg = argValue("threads") ?? "auto";
  const threads = threadsArg === "auto" ? "auto" : Number(threadsArg);
  const batch = Number(argValue("batch") ?? 16);
  const withForward = !process.argv.includes("--no-forward");
  const timer = await StepTimer.create({ configFile, backend, threads, batch, withForward });
  if (process.argv.includes("--serve")) return serve(timer);
  const reps = Number(argValue("reps") ?? 10);
  const warmup = Number(argValue("warmup") ?? 2);
  const forwardReps = Number(argValue("forward-reps") ?? reps);
  const i = timer.info;
  console.log(`${i.config}: ${i.params} params, ${i.resolution}×${i.resolution}, batch ${i.batch}, backend ${i.backend} ${i.backendVersion}, threads ${i.threads}, simd ${String(i.simd)}, gradients ${i.gradients} (${i.gradientsReason})`);
  const isBenchNet = i.params === 1_373_155;
  try {
    if (withForward) console.log(describe("forward", timer.forward(forwardReps, 1), isBenchNet ? BENCH_NET_GFLOP_PER_IMAGE * batch : null));
    console.log(describe("training step", await timer.train(reps, warmup), isBenchNet ? BENCH_NET_GFLOP_PER_IMAGE * batch * TRAIN_STEP_FLOP_FACTOR : null));
  } finally {
    timer.close();
  }
}

const invokedAsScript = process.argv[1] !== undefined && path.resolve(process.argv[1]) === THIS_FILE;
if (invokedAsScript) await cliMain();
