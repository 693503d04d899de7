/**
 * Per-kernel speed of diffx's conv kernels, and of a conv-heavy training step.
 *
 *   node --import tsx bench/kernels.ts [--backend wasm|cpu] [--threads auto|N] [--reps N]
 *        [--no-kernels] [--no-step] [--stock]
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
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../src/engine/backend.js";
import { registerEngineKernels, restoreStockKernels } from "../src/engine/kernels/register.js";

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

const shapes: { x: [number, number, number, number]; f: [number, number, number, number]; stride: number }[] = [
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
