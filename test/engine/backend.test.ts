/**
 * Backend selection: auto picks wasm here (tfjs-node is not installed) and says why tensorflow
 * was skipped; forced backends that cannot load fail with one clear message; probing for
 * `diffx doctor` leaves nothing half-started; threaded wasm falls back to one thread on failure.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs";
import { autoThreads, initBackend, probeBackends, wasmFeatures, type BackendReport } from "../../src/engine/backend.js";
import { RuntimeFailure, UsageError } from "../../src/errors.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "..", "..");
const START = path.join(ROOT, "test", "fixtures", "engine", "start-backend.ts");

test("probeBackends reports tensorflow missing, wasm and cpu usable, and starts nothing", async () => {
  const probes = await probeBackends();
  assert.deepEqual(
    probes.map((p) => p.name),
    ["tensorflow", "wasm", "cpu"],
  );
  const [tensorflow, wasm, cpu] = probes;
  assert.equal(tensorflow!.usable, false);
  assert.match(tensorflow!.reason ?? "", /tfjs-node-gpu: not installed/);
  assert.match(tensorflow!.reason ?? "", /tfjs-node: not installed/);
  assert.equal(wasm!.usable, true, wasm!.reason);
  assert.equal(wasm!.details?.["version"], "4.22.0");
  assert.equal(wasm!.details?.["simd"], wasmFeatures().simd);
  assert.equal(cpu!.usable, true);
  assert.equal(tf.engine().registry["wasm"], undefined, "probing must not start the wasm backend");
  assert.equal(tf.findBackendFactory("wasm"), null, "nor register it (tfjs would then start it by itself, single-threaded)");
});

let auto: BackendReport;

test("auto picks wasm here and reports why tensorflow was skipped (after a probe)", async () => {
  auto = await initBackend("auto", { threads: "auto" });
  assert.equal(auto.name, "wasm");
  assert.equal(tf.getBackend(), "wasm");
  assert.equal(auto.package, "@tensorflow/tfjs-backend-wasm");
  assert.equal(auto.version, "4.22.0");
  assert.equal(auto.simd, wasmFeatures().simd);
  assert.deepEqual(
    auto.skipped.map((s) => s.name),
    ["tensorflow"],
  );
  assert.match(auto.skipped[0]!.reason, /tfjs-node-gpu: not installed; tfjs-node: not installed/);
  assert.ok(auto.threads >= 1);
  // Either all logical CPUs (capped at 8) or a warning saying why not (busy machine, failed start).
  const wanted = Math.min(8, os.availableParallelism());
  assert.ok(auto.threads === wanted || auto.warnings.some((w) => /wasm runs on 1 thread/.test(w)), JSON.stringify(auto));
  assert.deepEqual(auto.kernels, ["Conv2DBackpropFilter", "Conv2DBackpropInput", "BatchMatMul"]);
});

test("a forced tensorflow backend that is not installed fails naming why", async () => {
  await assert.rejects(
    () => initBackend("tensorflow", { threads: "auto" }),
    (err: unknown) => {
      assert.ok(err instanceof RuntimeFailure);
      assert.match(err.message, /backend 'tensorflow'/);
      assert.match(err.message, /tfjs-node-gpu: not installed; tfjs-node: not installed/);
      return true;
    },
  );
  assert.equal(tf.getBackend(), "wasm", "a failed request leaves the running backend alone");
});

test('threads "auto": all CPUs up to 8, but 1 (with the reason) when the machine is already busy', () => {
  assert.deepEqual(autoThreads(2, 0.3), { threads: 2 });
  assert.deepEqual(autoThreads(2, 1.9), { threads: 2 });
  assert.deepEqual(autoThreads(16, 3), { threads: 8 });
  assert.deepEqual(autoThreads(1, 5), { threads: 1 });
  const busy = autoThreads(2, 2.0);
  assert.equal(busy.threads, 1);
  assert.match(busy.reason ?? "", /busy \(1-minute load 2\.0 on 2 CPUs\).*engine\.threads/);
});

test("an unknown backend name or a bad thread count is a usage error", async () => {
  await assert.rejects(
    () => initBackend("webgl" as "auto", { threads: "auto" }),
    (err: unknown) => err instanceof UsageError && /unknown backend 'webgl'.*auto, tensorflow, wasm, cpu/.test(err.message),
  );
  await assert.rejects(() => initBackend("wasm", { threads: 0 }), UsageError);
  await assert.rejects(() => initBackend("wasm", { threads: 1.5 }), UsageError);
});

test("cpu can be forced, warns that it is slow, and registers its kernel fixes", async () => {
  const cpu = await initBackend("cpu", { threads: "auto" });
  assert.equal(cpu.name, "cpu");
  assert.equal(tf.getBackend(), "cpu");
  assert.equal(cpu.threads, 1);
  assert.ok(cpu.warnings.some((w) => /cpu.*slower/.test(w)));
  assert.ok(cpu.kernels?.includes("ResizeNearestNeighborGrad"));
  assert.deepEqual(cpu.skipped, []);
});

test("wasm can be selected again; its thread count is fixed at first start", async () => {
  const again = await initBackend("wasm", { threads: "auto" });
  assert.equal(tf.getBackend(), "wasm");
  assert.equal(again.threads, auto.threads);
  const other = auto.threads === 1 ? 2 : 1;
  const changed = await initBackend("wasm", { threads: other });
  assert.equal(changed.threads, auto.threads);
  assert.ok(changed.warnings.some((w) => /cannot change/.test(w)));
});

interface ChildResult {
  report: BackendReport;
  backend: string;
  gradSum: number;
  gradHash: string;
  crashListenersAdded: number;
}

function startInChild(args: string[], tmpdir: string): ChildResult {
  const r = spawnSync(process.execPath, ["--import", "tsx", START, ...args], {
    cwd: ROOT,
    env: { ...process.env, TMPDIR: tmpdir },
    encoding: "utf8",
    timeout: 180_000,
  });
  assert.equal(r.status, 0, `child failed: ${r.stderr}`);
  const line = r.stdout.trim().split("\n").pop() ?? "";
  return JSON.parse(line) as ChildResult;
}

test("threaded wasm computes the same bits as 1 thread, and falls back to 1 thread (with a warning) when its worker script cannot be written", () => {
  const good = fs.mkdtempSync(path.join(os.tmpdir(), "diffx-wasm-ok-"));
  const bad = fs.mkdtempSync(path.join(os.tmpdir(), "diffx-wasm-bad-"));
  try {
    const ok = startInChild(["wasm", "2"], good);
    assert.equal(ok.report.threads, 2, JSON.stringify(ok.report.warnings));
    assert.equal(ok.crashListenersAdded, 0, "no rethrowing uncaughtException/unhandledRejection listeners left behind");
    assert.equal(ok.gradSum, 200); // Σ over 2 images of 4×4 pixels of the 3×3 windows covering each: 2·(4·4 + 8·6 + 4·9)
    const single = startInChild(["wasm", "1"], good);
    assert.equal(single.report.threads, 1);
    assert.equal(single.crashListenersAdded, 0);
    assert.equal(ok.gradHash, single.gradHash, "gradients of a conv stack are bit-identical with 1 and 2 threads");
    const workerScript = fs.readdirSync(good).find((f) => f.startsWith("diffx-tfjs-wasm-"));
    assert.ok(workerScript, "the threaded start writes its worker script to the temp folder");
    // A non-empty folder where the script must go: the atomic rename fails.
    fs.mkdirSync(path.join(bad, workerScript, "blocker"), { recursive: true });
    const fallback = startInChild(["wasm", "2"], bad);
    assert.equal(fallback.backend, "wasm");
    assert.equal(fallback.report.threads, 1);
    assert.ok(fallback.report.warnings.some((w) => /wasm runs on 1 thread: multithreaded start failed/.test(w)), JSON.stringify(fallback.report.warnings));
    assert.equal(fallback.gradSum, 200);
    assert.equal(fallback.gradHash, single.gradHash);
  } finally {
    fs.rmSync(good, { recursive: true, force: true });
    fs.rmSync(bad, { recursive: true, force: true });
  }
});
