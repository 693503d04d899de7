/**
 * Per-kernel speed of diffx's conv kernels, and of a conv-heavy training step.
 *
 *   node --import tsx bench/kernels.ts [--backend wasm|cpu] [--threads auto|N] [--reps N]
 *        [--no-kernels] [--no-step] [--stock] [--shapes bench|art]
 *
 * For UNet-like conv shapes at batch 16 it prints forward Conv2D, Conv2DBackpropFilter and
 * Conv2DBackpropInput (diffx's kernels on wasm; with --stock also tfjs's stock
 * Conv2DBackpropInput), then an Adam training step of a small UNet-like conv stack (32×32×3,
 * channels 32/64/128, batch 16). Each figure is the median over --reps runs after a warm-up, as
 * "wall ms / CPU ms": CPU time is the process's user + system time (all its threads), which on
 * a busy shared machine measures the work far more steadily than the wall clock, and
 * wall < CPU shows threads working in parallel. The wasm thread count is fixed when the backend
 * starts, so compare thread counts by running the script once per count.
 * Timings are printed only; nothing asserts them.
 *
 *   node --import tsx bench/kernels.ts --profile configs/art.yaml [--batch 16] [--threads auto|N]
 *        [--warmup 1] [--set key=value …] [--top 15] [--kernel BatchMatMul]
 * profiles ONE training step of a config's model (the trainer's own loop, bench/train-step.ts)
 * kernel by kernel: every kernel registered for the backend is wrapped to record its wall time
 * and the process's CPU time (all threads) while it runs, so CPU ÷ wall per kernel shows which
 * kernels run on the thread pool (≈ threads) and which on the main thread only (≈ 1). Kernels
 * called from inside our composite kernels are counted in their caller. `--set` overrides keep
 * the layer shapes cheap to change (e.g. the batch) the way `diffx train --set` does.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../src/engine/backend.js";
import { registerEngineKernels, restoreStockKernels } from "../src/engine/kernels/register.js";
import { StepTimer } from "./train-step.js";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : fallback;
}
const backendName = arg("backend", "wasm") === "cpu" ? "cpu" : "wasm";
const threadsArg = arg("threads", "auto");
const reps = Number(arg("reps", "7"));
const withKernels = !process.argv.includes("--no-kernels");
const withStep = !process.argv.includes("--no-step");
const withStock = process.argv.includes("--stock");

const report = await initBackend(backendName, { threads: threadsArg === "auto" ? "auto" : Number(threadsArg) });
console.log(`backend ${report.name} ${report.version}, threads ${report.threads}, simd ${String(report.simd ?? false)}`);
for (const w of report.warnings) console.log(`warning: ${w}`);

// ---------------------------------------------------------------------------------------------
// --profile CONFIG: one training step of a config's model, kernel by kernel

interface KernelTotals {
  calls: number;
  wall: number;
  cpu: number;
}

/**
 * Wrap every kernel registered for `backend` so that each top-level call adds its wall and
 * process-CPU ms to `totals` under its name (and under name + input shapes in `byShape`).
 * Returns a function that puts the unwrapped kernels back.
 */
function instrumentKernels(backend: string, totals: Map<string, KernelTotals>, byShape: Map<string, KernelTotals>): () => void {
  const originals = tf.getKernelsForBackend(backend);
  let depth = 0;
  const add = (map: Map<string, KernelTotals>, key: string, wall: number, cpu: number): void => {
    const t = map.get(key) ?? { calls: 0, wall: 0, cpu: 0 };
    t.calls += 1;
    t.wall += wall;
    t.cpu += cpu;
    map.set(key, t);
  };
  for (const config of originals) {
    const inner = config.kernelFunc;
    tf.unregisterKernel(config.kernelName, backend);
    tf.registerKernel({
      ...config,
      kernelFunc: (args) => {
        if (depth > 0) return inner(args);
        depth += 1;
        const w0 = performance.now();
        const c0 = cpuMs();
        try {
          return inner(args);
        } finally {
          const wall = performance.now() - w0;
          const cpu = cpuMs() - c0;
          depth -= 1;
          add(totals, config.kernelName, wall, cpu);
          const shapes = Object.values(args.inputs).map((t) => (t ? `[${t.shape.join(",")}]` : "-"));
          add(byShape, `${config.kernelName} ${shapes.join(" ")}`, wall, cpu);
        }
      },
    });
  }
  return () => {
    for (const config of originals) {
      tf.unregisterKernel(config.kernelName, backend);
      tf.registerKernel(config);
    }
  };
}

function printTotals(title: string, map: Map<string, KernelTotals>, stepWall: number, top: number): void {
  const rows = [...map.entries()].sort((a, b) => b[1].wall - a[1].wall).slice(0, top);
  console.log(`\n${title}`);
  console.log(`${"wall ms".padStart(10)} ${"% step".padStart(7)} ${"CPU ms".padStart(10)} ${"CPU/wall".padStart(9)} ${"calls".padStart(6)}  kernel`);
  for (const [name, t] of rows) {
    console.log(`${t.wall.toFixed(0).padStart(10)} ${((100 * t.wall) / stepWall).toFixed(1).padStart(7)} ${t.cpu.toFixed(0).padStart(10)} ${(t.cpu / Math.max(t.wall, 1e-9)).toFixed(2).padStart(9)} ${String(t.calls).padStart(6)}  ${name}`);
  }
}

/** CPU ms of each thread of this process by thread id and name (Linux /proc; empty elsewhere). */
function threadCpu(): Map<string, number> {
  const out = new Map<string, number>();
  const tick = 1000 / 100; // USER_HZ is 100 on Linux
  let tids: string[] = [];
  try {
    tids = fs.readdirSync("/proc/self/task");
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const name = stat.slice(stat.indexOf("(") + 1, close);
      const fields = stat.slice(close + 2).split(" "); // fields[0] is field 3 (state)
      out.set(`${tid} ${name}`, (Number(fields[11]) + Number(fields[12])) * tick); // utime, stime
    } catch {
      /* the thread ended */
    }
  }
  return out;
}

function printThreadCpu(before: Map<string, number>, after: Map<string, number>, wall: number): void {
  const rows = [...after.entries()].map(([k, v]) => [k, v - (before.get(k) ?? 0)] as const).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]);
  console.log(`\nCPU per thread during the profiled step (wall ${wall.toFixed(0)} ms):`);
  for (const [k, v] of rows) console.log(`  ${v.toFixed(0).padStart(8)} ms  ${((100 * v) / wall).toFixed(0).padStart(3)} %  ${k}`);
}

/** Size of the wasm backend's heap in MB (null on other backends). */
function wasmHeapMb(): number | null {
  const backend: unknown = tf.backend();
  const heap = (backend as { wasm?: { HEAPU8?: Uint8Array } }).wasm?.HEAPU8;
  return heap ? Math.round(heap.buffer.byteLength / 2 ** 20) : null;
}

async function profileStep(configFile: string): Promise<void> {
  const batch = Number(arg("batch", "16"));
  const warmup = Number(arg("warmup", "1"));
  const top = Number(arg("top", "15"));
  const overrides: string[] = [];
  process.argv.forEach((a, i) => {
    if (a === "--set" && i + 1 < process.argv.length) overrides.push(process.argv[i + 1]!);
  });
  const timer = await StepTimer.create({ configFile, backend: backendName, threads: threadsArg === "auto" ? "auto" : Number(threadsArg), batch, withForward: false, overrides });
  const i = timer.info;
  console.log(`${i.config}${overrides.length ? ` (${overrides.join(" ")})` : ""}: ${i.params} params, ${i.resolution}×${i.resolution}, batch ${i.batch}, threads ${i.threads}; load average ${os.loadavg().map((v) => v.toFixed(2)).join(" ")}`);
  // The loop is held mid-step (after forward + backward) between rounds: the profiled round is the
  // rest of one step (optimizer, EMA) plus the forward + backward of the next: one step of every kernel.
  const warm = await timer.train(1, warmup, 3); // total 3: the loop must still run a forward + backward after the profiled round starts
  console.log(`warm-up: ${warmup} untimed step(s), then a step of ${warm.map((v) => v.toFixed(0)).join(", ")} ms`);
  const totals = new Map<string, KernelTotals>();
  const byShape = new Map<string, KernelTotals>();
  const restore = instrumentKernels(backendName, totals, byShape);
  const threadsBefore = threadCpu();
  const w0 = performance.now();
  const c0 = cpuMs();
  const ms = await timer.train(1, 0);
  const stepWall = performance.now() - w0;
  const stepCpu = cpuMs() - c0;
  const threadsAfter = threadCpu();
  restore();
  let kernelWall = 0;
  let kernelCpu = 0;
  for (const t of totals.values()) {
    kernelWall += t.wall;
    kernelCpu += t.cpu;
  }
  console.log(`profiled step: ${ms.map((v) => v.toFixed(0)).join(", ")} ms (loop's own timing); wall ${stepWall.toFixed(0)} ms, CPU ${stepCpu.toFixed(0)} ms (CPU/wall ${(stepCpu / stepWall).toFixed(2)}); in kernels: wall ${kernelWall.toFixed(0)} ms, CPU ${kernelCpu.toFixed(0)} ms; load average ${os.loadavg().map((v) => v.toFixed(2)).join(" ")}`);
  printTotals(`top ${top} kernels by wall time`, totals, stepWall, top);
  printTotals(`top ${top} kernel calls by wall time, per input shapes`, byShape, stepWall, top);
  const only = arg("kernel", "");
  if (only !== "") printTotals(`${only} calls by input shapes`, new Map([...byShape].filter(([k]) => k.startsWith(`${only} `))), stepWall, 1000);
  printThreadCpu(threadsBefore, threadsAfter, stepWall);
  console.log(`\nwasm heap after the profiled step: ${wasmHeapMb() ?? "–"} MB (its high-water mark: the heap never shrinks; wasm32 caps it at 4096 MB)`);
  timer.close();
  process.exit(0); // the training loop is held between rounds
}

const profileConfig = process.argv.includes("--profile") ? arg("profile", "") : "";
if (profileConfig !== "") await profileStep(profileConfig);

interface Timing {
  wall: number;
  cpu: number;
  wallAll: number[];
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Median wall and CPU ms of `f`, after two warm-up runs. */
function measure(f: () => void, n = reps): Timing {
  f();
  f();
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < n; i++) {
    const w0 = performance.now();
    const c0 = cpuMs();
    f();
    cpu.push(cpuMs() - c0);
    wall.push(performance.now() - w0);
  }
  return { wall: median(wall), cpu: median(cpu), wallAll: wall };
}

/** Time an op returning a tensor, read back and disposed each run. */
function measureOp(f: () => tf.Tensor, n = reps): Timing {
  return measure(() => {
    const out = f();
    out.dataSync();
    out.dispose();
  }, n);
}

function show(t: Timing): string {
  return `${t.wall.toFixed(1)} / ${t.cpu.toFixed(1)}`;
}

type ConvShape = { x: [number, number, number, number]; f: [number, number, number, number]; stride: number };
/** The bench network's conv layers (default), or configs/art.yaml's (`--shapes art`), at batch 16. */
const shapes: ConvShape[] =
  arg("shapes", "bench") === "art"
    ? [
        { x: [16, 64, 64, 128], f: [3, 3, 128, 128], stride: 1 },
        { x: [16, 64, 64, 128], f: [3, 3, 128, 128], stride: 2 },
        { x: [16, 32, 32, 256], f: [3, 3, 256, 256], stride: 1 },
        { x: [16, 16, 16, 256], f: [3, 3, 256, 256], stride: 1 },
        { x: [16, 8, 8, 512], f: [3, 3, 512, 512], stride: 1 },
        { x: [16, 64, 64, 384], f: [1, 1, 384, 128], stride: 1 },
      ]
    : [
        { x: [16, 32, 32, 32], f: [3, 3, 32, 32], stride: 1 },
        { x: [16, 32, 32, 32], f: [3, 3, 32, 64], stride: 2 },
        { x: [16, 16, 16, 64], f: [3, 3, 64, 64], stride: 1 },
        { x: [16, 8, 8, 128], f: [3, 3, 128, 128], stride: 1 },
        { x: [16, 32, 32, 64], f: [1, 1, 64, 32], stride: 1 },
      ];

if (withKernels) {
  console.log("\nms as wall / CPU");
  console.log(`${"shape".padEnd(28)}${"forward".padStart(16)}${"bp filter".padStart(16)}${"bp input".padStart(16)}${withStock ? "stock bp input".padStart(18) : ""}`);
  for (const { x: xs, f: fs, stride } of shapes) {
    const x = tf.randomNormal(xs, 0, 1, "float32", 1) as tf.Tensor4D;
    const w = tf.randomNormal(fs, 0, 1, "float32", 2) as tf.Tensor4D;
    const yShape = tf.tidy(() => tf.conv2d(x, w, stride, "same").shape);
    const dy = tf.randomNormal(yShape, 0, 1, "float32", 3) as tf.Tensor4D;
    const attrs = { strides: [stride, stride], pad: "same", dataFormat: "NHWC" } as unknown as tf.NamedAttrMap;
    const backpropInput = () => tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter: w }, { ...attrs, inputShape: xs }) as tf.Tensor;
    const fwd = measureOp(() => tf.conv2d(x, w, stride, "same"));
    const bpFilter = measureOp(() => tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, { ...attrs, filterShape: fs }) as tf.Tensor);
    const bpInput = measureOp(backpropInput);
    let stock = "";
    if (withStock) {
      restoreStockKernels(backendName);
      stock = show(measureOp(backpropInput, 3)).padStart(18);
      registerEngineKernels(backendName);
    }
    const label = `${xs.join("x")} k${fs[0]} ${fs[2]}→${fs[3]} s${stride}`;
    console.log(`${label.padEnd(28)}${show(fwd).padStart(16)}${show(bpFilter).padStart(16)}${show(bpInput).padStart(16)}${stock}`);
    tf.dispose([x, w, dy]);
  }
}

if (withKernels) {
  // Batched matrix products shaped like configs/art.yaml's attention at batch 16 (self-attention
  // over 16×16 = 256 and 8×8 = 64 pixels, cross-attention to 32 text tokens) and their gradients.
  const products: { a: number[]; b: number[]; tA: boolean; tB: boolean; what: string }[] = [
    { a: [16, 256, 256], b: [16, 256, 256], tA: false, tB: true, what: "q·kᵀ 16×16" },
    { a: [16, 256, 256], b: [16, 256, 256], tA: false, tB: false, what: "w·v 16×16" },
    { a: [16, 256, 256], b: [16, 256, 256], tA: true, tB: false, what: "wᵀ·dy 16×16" },
    { a: [16, 64, 512], b: [16, 64, 512], tA: false, tB: true, what: "q·kᵀ 8×8" },
    { a: [16, 256, 256], b: [16, 32, 256], tA: false, tB: true, what: "q·kᵀ cross 16×16" },
  ];
  console.log(`\n${"BatchMatMul (ms as wall / CPU)".padEnd(44)}${"diffx".padStart(16)}${withStock ? "stock".padStart(18) : ""}`);
  for (const p of products) {
    const a = tf.randomNormal(p.a, 0, 1, "float32", 4);
    const b = tf.randomNormal(p.b, 0, 1, "float32", 5);
    const run = () => tf.matMul(a, b, p.tA, p.tB);
    const ours = measureOp(run);
    let stock = "";
    if (withStock) {
      restoreStockKernels(backendName);
      stock = show(measureOp(run, 3)).padStart(18);
      registerEngineKernels(backendName);
    }
    const label = `${p.what}: [${p.a.join(",")}]${p.tA ? "ᵀ" : ""}·[${p.b.join(",")}]${p.tB ? "ᵀ" : ""}`;
    console.log(`${label.padEnd(44)}${show(ours).padStart(16)}${stock}`);
    tf.dispose([a, b]);
  }
}

if (withStep) {
  // A small UNet-like conv stack: 32×32×3 in, channels 32/64/128, stride-2 downsampling,
  // nearest 2× upsampling by reshape + tile (as src/nn does), skip concatenations, MSE, Adam.
  const batch = 16;
  const params = new Map<string, tf.Variable>();
  let seed = 10;
  const conv = (name: string, x: tf.Tensor4D, k: number, cin: number, cout: number, stride = 1): tf.Tensor4D => {
    let w = params.get(name);
    if (w === undefined) {
      w = tf.variable(tf.randomNormal([k, k, cin, cout], 0, Math.sqrt(2 / (k * k * cin)), "float32", seed++), true, name);
      params.set(name, w);
    }
    const p: [number, number] = k === 3 ? (stride === 1 ? [1, 1] : [0, 1]) : [0, 0];
    return tf.conv2d(x, w as tf.Tensor4D, stride, [[0, 0], p, p, [0, 0]]);
  };
  const up = (x: tf.Tensor4D): tf.Tensor4D => {
    const [n, h, w, c] = x.shape;
    const wide = tf.tile(x.reshape([n * h, w, 1, c]), [1, 1, 2, 1]);
    const tall = tf.tile(wide.reshape([n, h, 1, 2 * w * c]), [1, 1, 2, 1]);
    return tall.reshape([n, 2 * h, 2 * w, c]);
  };
  const net = (x: tf.Tensor4D): tf.Tensor4D => {
    const a0 = tf.relu(conv("in", x, 3, 3, 32));
    const a1 = tf.relu(conv("d0b", tf.relu(conv("d0a", a0, 3, 32, 32)), 3, 32, 32));
    const b0 = tf.relu(conv("down1", a1, 3, 32, 64, 2));
    const b1 = tf.relu(conv("d1b", tf.relu(conv("d1a", b0, 3, 64, 64)), 3, 64, 64));
    const c0 = tf.relu(conv("down2", b1, 3, 64, 128, 2));
    const c1 = tf.relu(conv("midb", tf.relu(conv("mida", c0, 3, 128, 128)), 3, 128, 128));
    const u1 = tf.relu(conv("u1b", tf.relu(conv("u1", tf.concat([up(c1), b1], 3), 3, 192, 64)), 3, 64, 64));
    const u0 = tf.relu(conv("u0b", tf.relu(conv("u0", tf.concat([up(u1), a1], 3), 3, 96, 32)), 1, 32, 32));
    return conv("out", u0, 3, 32, 3);
  };
  const xb = tf.randomNormal([batch, 32, 32, 3], 0, 1, "float32", 100) as tf.Tensor4D;
  const target = tf.randomNormal([batch, 32, 32, 3], 0, 1, "float32", 101) as tf.Tensor4D;
  tf.tidy(() => net(xb)); // creates the variables
  const opt = tf.train.adam(1e-3);
  const step = (): void => {
    const loss = opt.minimize(() => tf.losses.meanSquaredError(target, net(xb)) as tf.Scalar, true, [...params.values()]);
    loss?.dataSync();
    loss?.dispose();
  };
  const fwd = measureOp(() => tf.tidy(() => net(xb)), Math.max(3, Math.floor(reps / 2)));
  const train = measure(step);
  console.log(`\nUNet-like conv stack, batch ${batch} (ms as wall / CPU): forward ${show(fwd)}, Adam training step ${show(train)}`);
  console.log(`  training step wall ms over ${reps} runs: ${train.wallAll.map((v) => v.toFixed(0)).join(" ")}`);
}
