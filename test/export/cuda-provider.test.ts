/**
 * What onnxruntime's CUDA provider needs (src/export/cuda-provider.ts), checked on fake machines:
 * a fake binding folder and fake library folders, where each piece is an empty file (or a
 * versioned file and its soname link), so every "missing" message can be seen without a GPU.
 * Then engine.device's choice, the CUDA session options, and the real machine here (no CUDA).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { checkCuda, chooseDevice, driverVersion, onnxDevice, probeCudaProvider, resolveLibrary, tf32State, type CudaCheck, type CudaMachine } from "../../src/export/cuda-provider.js";
import { sessionOptions } from "../../src/export/onnx-runner.js";
import { UsageError } from "../../src/errors.js";
import { runCli, tempDir } from "../helpers/cli.js";

const CUDA_LIBS = ["libcudart.so.12", "libcublas.so.12", "libcublasLt.so.12", "libcurand.so.10", "libcudnn.so.9"];
const DRIVER_FILE = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:56 UTC 2024\nGCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n";

/** A fake machine: its binding folder, one LD_LIBRARY_PATH folder and one "system" folder, all empty. */
function machine(): CudaMachine & { lib: string; system: string } {
  const root = tempDir("diffx-cuda-");
  const dirs = ["binding", "lib", "system"].map((d) => path.join(root, d));
  for (const d of dirs) fs.mkdirSync(d);
  return { platform: "linux-x64", bindingDir: dirs[0], libraryPath: [dirs[1]], ldCache: null, defaultDirs: [dirs[2]], driverFile: null, nvidiaSmi: null, lib: dirs[1], system: dirs[2] };
}

function touch(dir: string, ...names: string[]): void {
  for (const n of names) fs.writeFileSync(path.join(dir, n), "");
}

function firstMissing(c: CudaCheck): string {
  assert.equal(c.ready, false);
  assert.ok(c.missing);
  return c.missing;
}

test("doctor's pieces: each missing piece is named with what to do, in the order the provider needs them", () => {
  const m = machine();
  // nothing installed: the provider libraries are the first thing missing, with the install command
  let c = checkCuda(m);
  assert.match(firstMissing(c), /libonnxruntime_providers_shared\.so is missing: onnxruntime-node was installed without its CUDA provider.*ONNXRUNTIME_NODE_INSTALL=cuda12 npm install/);
  assert.deepEqual(
    c.pieces.filter((p) => p.missing !== null).map((p) => p.name.split(" ")[0]),
    ["provider", "provider", "NVIDIA", "libcuda.so.1", ...CUDA_LIBS],
  );
  touch(m.bindingDir, "libonnxruntime_providers_shared.so");
  assert.match(firstMissing(checkCuda(m)), /libonnxruntime_providers_cuda\.so is missing/);
  touch(m.bindingDir, "libonnxruntime_providers_cuda.so");
  // the driver: the kernel module first, then its user-space library
  assert.match(firstMissing(checkCuda(m)), /^no NVIDIA driver is loaded \(\/proc\/driver\/nvidia\/version is missing; nvidia-smi is absent or fails\)/);
  m.driverFile = DRIVER_FILE;
  c = checkCuda(m);
  assert.equal(c.versions.driver, "550.54.15");
  assert.match(firstMissing(c), /^libcuda\.so\.1 \(the driver's user-space library\) is not found/);
  touch(m.system, "libcuda.so.1");
  // each CUDA 12 / cuDNN 9 library in turn, naming LD_LIBRARY_PATH as it is
  for (const [k, lib] of CUDA_LIBS.entries()) {
    const msg = firstMissing(checkCuda(m));
    assert.ok(msg.startsWith(`${lib} (`), `${lib} should be the first missing piece, got: ${msg}`);
    assert.ok(msg.includes(`LD_LIBRARY_PATH (${m.lib})`), msg);
    assert.match(msg, k === CUDA_LIBS.length - 1 ? /install cuDNN 9 for CUDA 12/ : /install the CUDA 12 toolkit or runtime libraries/);
    touch(m.lib, lib);
  }
  c = checkCuda(m);
  assert.equal(c.ready, true);
  assert.equal(c.missing, null);
  assert.ok(c.pieces.every((p) => p.found !== null));
});

test("another platform: the first missing piece says onnxruntime-node has a CUDA provider only for linux-x64", () => {
  const m = machine();
  m.platform = "darwin-arm64";
  assert.match(firstMissing(checkCuda(m)), /^onnxruntime-node ships its CUDA provider only for linux-x64, and this is darwin-arm64/);
});

test("libraries resolve as the loader finds them (provider folder, LD_LIBRARY_PATH, ldconfig cache, system folders); versions come from the files they name", () => {
  const m = machine();
  const cuda = path.join(m.system, "cuda-12.4");
  fs.mkdirSync(cuda);
  touch(cuda, "libcudart.so.12.4.127", "libcudnn.so.9.1.0");
  fs.symlinkSync("libcudart.so.12.4.127", path.join(cuda, "libcudart.so.12"));
  // the ldconfig cache: a 32-bit entry must not count on x86-64
  m.ldCache = [
    "3 libs found in cache `/etc/ld.so.cache'",
    `\tlibcurand.so.10 (libc6) => /usr/lib/i386-linux-gnu/libcurand.so.10`,
    `\tlibcudart.so.12 (libc6,x86-64) => ${path.join(cuda, "libcudart.so.12")}`,
    `\tlibcudnn.so.9 (libc6,x86-64) => ${path.join(cuda, "libcudnn.so.9.1.0")}`,
  ].join("\n");
  assert.equal(resolveLibrary("libcurand.so.10", m), null);
  assert.equal(resolveLibrary("libcudart.so.12", m), path.join(cuda, "libcudart.so.12"));
  // LD_LIBRARY_PATH comes before the cache, the provider's own folder before both
  touch(m.lib, "libcudart.so.12");
  assert.equal(resolveLibrary("libcudart.so.12", m), path.join(m.lib, "libcudart.so.12"));
  touch(m.bindingDir, "libcudart.so.12");
  assert.equal(resolveLibrary("libcudart.so.12", m), path.join(m.bindingDir, "libcudart.so.12"));
  fs.rmSync(path.join(m.bindingDir, "libcudart.so.12"));
  fs.rmSync(path.join(m.lib, "libcudart.so.12"));
  const c = checkCuda(m);
  assert.equal(c.versions.cuda, "12.4.127");
  assert.equal(c.versions.cudnn, "9.1.0");
  // a library whose file name carries only the major version
  touch(m.lib, "libcudnn.so.9");
  assert.equal(checkCuda(m).versions.cudnn, "9");
});

test("driverVersion reads the kernel module's version line", () => {
  assert.equal(driverVersion(DRIVER_FILE), "550.54.15");
  assert.equal(driverVersion("NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  535.104.05  Release Build\n"), "535.104.05");
  assert.equal(driverVersion("garbage"), null);
});

const ready = (): CudaCheck => ({ ready: true, pieces: [], missing: null, versions: { driver: "550.54.15", cuda: "12.4.127", cudnn: "9.1.0" } });
const notReady = (): CudaCheck => ({ ready: false, pieces: [], missing: "libcudnn.so.9 (cuDNN 9) is not found", versions: { driver: null, cuda: null, cudnn: null } });

test("engine.device: cpu as asked; auto = cuda only where the provider loads, else cpu with the reason; cuda without CUDA is a usage error", () => {
  let probes = 0;
  const probeOk = (): string | null => {
    probes++;
    return null;
  };
  assert.deepEqual(chooseDevice("cpu", { check: ready, probe: probeOk }), { requested: "cpu", provider: "cpu", reason: "engine.device: cpu" });
  assert.equal(probes, 0, "cpu needs no probe");

  const fallback = chooseDevice("auto", { check: notReady, probe: probeOk });
  assert.deepEqual(fallback, { requested: "auto", provider: "cpu", reason: "auto: CUDA not used: libcudnn.so.9 (cuDNN 9) is not found" });
  assert.equal(probes, 0, "a missing piece is reported without starting CUDA");

  const broken = chooseDevice("auto", { check: ready, probe: () => "CUDA failure 804: forward compatibility was attempted on non supported HW" });
  assert.equal(broken.provider, "cpu");
  assert.equal(broken.reason, "auto: CUDA not used: onnxruntime could not start its CUDA provider: CUDA failure 804: forward compatibility was attempted on non supported HW");

  const gpu = chooseDevice("auto", { check: ready, probe: probeOk, env: {} });
  assert.equal(gpu.provider, "cuda");
  assert.deepEqual(gpu.versions, { driver: "550.54.15", cuda: "12.4.127", cudnn: "9.1.0" });
  assert.match(gpu.tf32 ?? "", /^on/);
  assert.match(chooseDevice("cuda", { check: ready, probe: probeOk, env: { NVIDIA_TF32_OVERRIDE: "0" } }).tf32 ?? "", /^off \(NVIDIA_TF32_OVERRIDE=0\)/);
  assert.equal(tf32State({ NVIDIA_TF32_OVERRIDE: "1" }).startsWith("on"), true);

  assert.throws(
    () => chooseDevice("cuda", { check: notReady, probe: probeOk }),
    (e: unknown) => e instanceof UsageError && /^engine\.device cuda: CUDA cannot be used here: libcudnn\.so\.9 \(cuDNN 9\) is not found\. `diffx doctor` lists/.test(e.message) && /engine\.device: cpu/.test(e.message),
  );
  assert.throws(
    () => chooseDevice("cuda", { source: "--device", check: ready, probe: () => "no CUDA-capable device is detected" }),
    (e: unknown) => e instanceof UsageError && /^--device cuda: CUDA cannot be used here: onnxruntime could not start its CUDA provider: no CUDA-capable device is detected\..*use --device cpu/.test(e.message),
  );
});

test("CUDA session options: the CUDA provider on ordinal 0 (a worker sees only its own GPU), errors-only logging; the CPU as before", () => {
  const cuda = sessionOptions(onnxDevice("cuda"), 4, false);
  assert.deepEqual(cuda.executionProviders, [{ name: "cuda", deviceId: 0 }]);
  assert.equal(cuda.logSeverityLevel, 3);
  assert.equal(cuda.intraOpNumThreads, 4);
  const cpu = sessionOptions(onnxDevice("cpu"), 2, true);
  assert.deepEqual(cpu.executionProviders, ["cpu"]);
  assert.equal(cpu.logSeverityLevel, undefined);
  assert.deepEqual(cpu.extra, { session: { intra_op: { allow_spinning: "1" } } });
  // everything but the provider is the same on both devices
  const strip = (o: ReturnType<typeof sessionOptions>): unknown => ({ ...o, executionProviders: undefined, logSeverityLevel: undefined });
  assert.deepEqual(strip(sessionOptions(onnxDevice("cuda"), 2, true)), strip(cpu));
});

test("this machine: no CUDA provider library, so the probe's child process gets onnxruntime's own refusal, and auto is cpu", () => {
  const here = checkCuda();
  assert.equal(here.ready, false);
  assert.match(here.missing ?? "", /libonnxruntime_providers_shared\.so is missing/);
  // the probe itself: a child process asks onnxruntime for its CUDA provider and reports why not
  const reason = probeCudaProvider(0);
  assert.ok(reason !== null && reason.length > 0);
  assert.match(reason, /shared library|providers_cuda|cuda/i);
  assert.equal(chooseDevice("auto").provider, "cpu");
});

test("diffx doctor names the missing provider library and says auto uses the CPU (text and JSON)", () => {
  const r = runCli(["doctor"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /onnxruntime's CUDA provider \(engine\.device cuda: CUDA 12, cuDNN 9\):/);
  assert.match(r.stdout, /✗ provider library libonnxruntime_providers_cuda\.so\n\s+\S+libonnxruntime_providers_cuda\.so is missing: .*ONNXRUNTIME_NODE_INSTALL=cuda12/);
  assert.match(r.stdout, /engine\.device auto would use: cpu/);
  const j = runCli(["--json", "doctor"]);
  assert.equal(j.code, 0, j.stderr);
  const info = JSON.parse(j.stdout) as { cuda: { pieces: { name: string; missing: string | null }[]; device_auto: { provider: string; reason: string } } };
  assert.equal(info.cuda.device_auto.provider, "cpu");
  assert.match(info.cuda.device_auto.reason, /^auto: CUDA not used: .*libonnxruntime_providers_shared\.so is missing/);
  assert.ok(info.cuda.pieces.some((p) => p.name === "provider library libonnxruntime_providers_cuda.so" && p.missing !== null));
});

test("train with engine.device cuda (or --device cuda) here is a usage error (exit 2) that names the missing piece and writes nothing", () => {
  const dir = tempDir();
  const tiny = path.resolve("configs/ci-tiny.yaml");
  const bySet = runCli(["train", tiny, "--run-dir", "gpu-run", "--set", "engine.device=cuda"], { cwd: dir });
  assert.equal(bySet.code, 2, bySet.stderr);
  assert.match(bySet.stderr, /engine\.device cuda: CUDA cannot be used here: \S+libonnxruntime_providers_shared\.so is missing/);
  assert.doesNotMatch(bySet.stderr, /\n\s+at /);
  const byFlag = runCli(["train", tiny, "--run-dir", "gpu-run", "--device", "cuda"], { cwd: dir });
  assert.equal(byFlag.code, 2, byFlag.stderr);
  assert.match(byFlag.stderr, /--device cuda: CUDA cannot be used here: .*use --device cpu/);
  assert.deepEqual(fs.readdirSync(dir), [], "nothing written");
  const bad = runCli(["train", tiny, "--run-dir", "gpu-run", "--set", "engine.device=gpu"], { cwd: dir });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /engine\.device/);
  assert.deepEqual(fs.readdirSync(dir), []);
});
