/**
 * Per-kernel speed of diffx's wasm conv kernels, and of a conv-heavy training step.
 *
 *   node --import tsx bench/kernels.ts [--backend wasm|cpu] [--threads auto|N] [--reps N] [--no-step] [--no-kernels] [--stock]
 *
 * Prints, for UNet-like conv shapes at batch 16: forward Conv2D, our Conv2DBackpropFilter, our
 * Conv2DBackpropInput and (with --stock) tfjs's stock Conv2DBackpropInput, as median ms over
 * --reps runs after a warm-up; then the median ms of an Adam training step of a small UNet-like
 * conv stack (32×32×3, channels 32/64/128, batch 16). The thread count is fixed when wasm starts,
 * so compare threads by running the script once per count. Timings are never asserted anywhere.
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../src/engine/backend.js";
import { restoreStockKernels, registerEngineKernels } from "../src/engine/kernels/register.js";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : fallback;
}
const backendName = arg("backend", "wasm") as "wasm" | "cpu";
const threadsArg = arg("threads", "auto");
const reps = Number(arg("reps", "7"));
const withStep = !process.argv.includes("--no-step");
const withKernels = !process.argv.includes("--no-kernels");
const withStock = process.argv.includes("--stock");

const report = await initBackend(backendName, { threads: threadsArg === "auto" ? "auto" : Number(threadsArg) });
console.log(`backend ${report.name} ${report.version}, threads ${report.threads}, simd ${String(report.simd ?? false)}`);
for (const w of report.warnings) console.log(`warning: ${w}`);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Median ms of `f` (which returns a tensor we read back, then dispose). */
function time(f: () => tf.Tensor, n = reps): number {
  for (let i = 0; i < 2; i++) f().dispose();
  const ts: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const out = f();
    out.dataSync();
    ts.push(performance.now() - t0);
    out.dispose();
  }
  return median(ts);
}

const shapes: { x: [number, number, number, number]; f: [number, number, number, number]; stride: number }[] = [
  { x: [16, 32, 32, 32], f: [3, 3, 32, 32], stride: 1 },
  { x: [16, 32, 32, 32], f: [3, 3, 32, 64], stride: 2 },
  { x: [16, 16, 16, 64], f: [3, 3, 64, 64], stride: 1 },
  { x: [16, 8, 8, 128], f: [3, 3, 128, 128], stride: 1 },
  { x: [16, 32, 32, 64], f: [1, 1, 64, 32], stride: 1 },
];

if (withKernels) console.log("\nshape                         fwd ms   bpFilter ms   bpInput ms" + (withStock ? "   stock bpInput ms" : ""));
for (const { x: xs, f: fs, stride } of withKernels ? shapes : []) {
  const x = tf.randomNormal(xs, 0, 1, "float32", 1) as tf.Tensor4D;
  const w = tf.randomNormal(fs, 0, 1, "float32", 2) as tf.Tensor4D;
  const y = tf.conv2d(x, w, stride, "same");
  const dy = tf.randomNormal(y.shape, 0, 1, "float32", 3) as tf.Tensor4D;
  const fwd = time(() => tf.conv2d(x, w, stride, "same"));
  const bpFilter = time(() => tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, { strides: [stride, stride], pad: "same", dataFormat: "NHWC", filterShape: fs }) as tf.Tensor);
  const bpInput = time(() => tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter: w }, { strides: [stride, stride], pad: "same", dataFormat: "NHWC", inputShape: xs }) as tf.Tensor);
  let stock = "";
  if (withStock) {
    restoreStockKernels(backendName);
    stock = time(() => tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter: w }, { strides: [stride, stride], pad: "same", dataFormat: "NHWC", inputShape: xs }) as tf.Tensor, 3).toFixed(1).padStart(18);
    registerEngineKernels(backendName);
  }
  const label = `${xs.join("x")} k${fs[0]} ${fs[2]}→${fs[3]} s${stride}`;
  console.log(`${label.padEnd(28)}${fwd.toFixed(1).padStart(8)}${bpFilter.toFixed(1).padStart(14)}${bpInput.toFixed(1).padStart(13)}${stock}`);
  tf.dispose([x, w, y, dy]);
}

if (withStep) {
  // A small UNet-like conv stack: 32×32×3 in, channels 32/64/128, stride-2 downsampling,
  // nearest 2× upsampling by reshape + tile (as src/nn does), skip concatenations, MSE loss, Adam.
  const batch = 16;
  const params = new Map<string, tf.Variable>();
  let seed = 10;
  const conv = (name: string, x: tf.Tensor4D, k: number, cin: number, cout: number, stride = 1): tf.Tensor4D => {
    let w = params.get(name);
    if (w === undefined) {
      w = tf.variable(tf.randomNormal([k, k, cin, cout], 0, Math.sqrt(2 / (k * k * cin)), "float32", seed++), true, name);
      params.set(name, w);
    }
    const p = k === 3 ? (stride === 1 ? [1, 1] : [0, 1]) : [0, 0];
    return tf.conv2d(x, w as tf.Tensor4D, stride, [[0, 0], p as [number, number], p as [number, number], [0, 0]]);
  };
  const up = (x: tf.Tensor4D): tf.Tensor4D => {
    const [n, h, w, c] = x.shape;
    const wide = tf.tile(x.reshape([n * h, w, 1, c]), [1, 1, 2, 1]);
    const tall = tf.tile(wide.reshape([n, h, 1, 2 * w * c]), [1, 1, 2, 1]);
    return tall.reshape([n, 2 * h, 2 * w, c]) as tf.Tensor4D;
  };
  const net = (x: tf.Tensor4D): tf.Tensor4D => {
    const a0 = tf.relu(conv("in", x, 3, 3, 32));
    const a1 = tf.relu(conv("d0b", tf.relu(conv("d0a", a0, 3, 32, 32)), 3, 32, 32));
    const b0 = tf.relu(conv("down1", a1, 3, 32, 64, 2));
    const b1 = tf.relu(conv("d1b", tf.relu(conv("d1a", b0, 3, 64, 64)), 3, 64, 64));
    const c0 = tf.relu(conv("down2", b1, 3, 64, 128, 2));
    const c1 = tf.relu(conv("midb", tf.relu(conv("mida", c0, 3, 128, 128)), 3, 128, 128));
    const u1 = tf.relu(conv("u1", tf.concat([up(c1), b1], 3), 3, 192, 64));
    const u1b = tf.relu(conv("u1b", u1, 3, 64, 64));
    const u0 = tf.relu(conv("u0", tf.concat([up(u1b), a1], 3), 3, 96, 32));
    const u0b = tf.relu(conv("u0b", u0, 1, 32, 32));
    return conv("out", u0b, 3, 32, 3);
  };
  const xb = tf.randomNormal([batch, 32, 32, 3], 0, 1, "float32", 100) as tf.Tensor4D;
  const target = tf.randomNormal([batch, 32, 32, 3], 0, 1, "float32", 101) as tf.Tensor4D;
  tf.tidy(() => net(xb)); // create the variables
  const opt = tf.train.adam(1e-3);
  const step = (): number => {
    const loss = opt.minimize(() => tf.losses.meanSquaredError(target, net(xb)) as tf.Scalar, true, [...params.values()]);
    const v = loss!.dataSync()[0]!;
    loss!.dispose();
    return v;
  };
  const fwdMs = time(() => tf.tidy(() => net(xb)), Math.max(3, Math.floor(reps / 2)));
  for (let i = 0; i < 2; i++) step();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    step();
    ts.push(performance.now() - t0);
  }
  console.log(`\nUNet-like conv stack, batch ${batch}: forward ${fwdMs.toFixed(0)} ms, Adam training step ${median(ts).toFixed(0)} ms (median of ${reps}; min ${Math.min(...ts).toFixed(0)}, max ${Math.max(...ts).toFixed(0)})`);
}
