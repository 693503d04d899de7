import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { UsageError } from "../../src/errors.js";
import { listGpus, parseDevicesSpec, resolveDevices, type GpuInfo } from "../../src/train/parallel/devices.js";
import { ROOT, runCli, tempDir } from "../helpers/cli.js";

function fakeGpus(n: number): GpuInfo[] {
  return Array.from({ length: n }, (_, i) => ({ id: String(i), name: "NVIDIA A100-SXM4-80GB", memoryMiB: 81920 }));
}

/** What `nvidia-smi --query-gpu=index,uuid,name,memory.total --format=csv,noheader,nounits` prints on a 4-GPU box. */
const SMI_4 = [
  "0, GPU-11111111-aaaa-bbbb-cccc-000000000000, NVIDIA A100-SXM4-80GB, 81920",
  "1, GPU-22222222-aaaa-bbbb-cccc-000000000000, NVIDIA A100-SXM4-80GB, 81920",
  "2, GPU-33333333-aaaa-bbbb-cccc-000000000000, NVIDIA A100-SXM4-80GB, 81920",
  "3, GPU-44444444-aaaa-bbbb-cccc-000000000000, NVIDIA A100-SXM4-80GB, 81920",
  "",
].join("\n");

function usageError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof UsageError, `expected a UsageError, got ${String(err)}`);
    assert.equal(err.exitCode, 2);
    assert.match(err.message, pattern);
    return true;
  });
}

test("listGpus parses nvidia-smi and honours CUDA_VISIBLE_DEVICES", () => {
  const query = (): string => SMI_4;
  assert.deepEqual(listGpus({ query, env: {} }), [
    { id: "0", name: "NVIDIA A100-SXM4-80GB", memoryMiB: 81920 },
    { id: "1", name: "NVIDIA A100-SXM4-80GB", memoryMiB: 81920 },
    { id: "2", name: "NVIDIA A100-SXM4-80GB", memoryMiB: 81920 },
    { id: "3", name: "NVIDIA A100-SXM4-80GB", memoryMiB: 81920 },
  ]);
  assert.deepEqual(
    listGpus({ query, env: { CUDA_VISIBLE_DEVICES: "3,1" } }).map((g) => g.id),
    ["3", "1"],
  );
  assert.deepEqual(
    listGpus({ query, env: { CUDA_VISIBLE_DEVICES: "GPU-33333333,0" } }).map((g) => g.id),
    ["2", "0"],
  );
  // CUDA stops at the first entry that names no device; "" and -1 hide all
  assert.deepEqual(listGpus({ query, env: { CUDA_VISIBLE_DEVICES: "1,9,2" } }).map((g) => g.id), ["1"]);
  assert.deepEqual(listGpus({ query, env: { CUDA_VISIBLE_DEVICES: "" } }), []);
  assert.deepEqual(listGpus({ query, env: { CUDA_VISIBLE_DEVICES: "-1" } }), []);
});

test("listGpus is empty when nvidia-smi is absent or fails", () => {
  assert.deepEqual(listGpus({ query: () => null, env: {} }), []);
  assert.deepEqual(listGpus({ query: () => "NVIDIA-SMI has failed because it couldn't communicate with the driver\n", env: {} }), []);
});

test("the real listGpus does not throw on a machine without nvidia-smi", () => {
  const gpus = listGpus();
  assert.ok(Array.isArray(gpus));
});

test("8 GPUs on CUDA: auto uses all, one worker per GPU with its CUDA_VISIBLE_DEVICES (in nvidia-smi's PCI order)", () => {
  const plan = resolveDevices("auto", "cuda", 16, fakeGpus(8));
  assert.equal(plan.kind, "gpu");
  assert.equal(plan.workers.length, 8);
  plan.workers.forEach((w, i) => {
    assert.equal(w.rank, i);
    assert.equal(w.device, String(i));
    assert.deepEqual(w.env, { CUDA_VISIBLE_DEVICES: String(i), CUDA_DEVICE_ORDER: "PCI_BUS_ID" });
    assert.equal(w.threads, 2);
  });
  const four = resolveDevices(4, "cuda", 16, fakeGpus(8));
  assert.deepEqual(four.workers.map((w) => w.env.CUDA_VISIBLE_DEVICES), ["0", "1", "2", "3"]);
});

test('"0,3,5" picks exactly those GPUs, in that order', () => {
  const plan = resolveDevices("0,3,5", "cuda", 2, fakeGpus(8));
  assert.equal(plan.kind, "gpu");
  assert.deepEqual(
    plan.workers.map((w) => [w.rank, w.device, w.env.CUDA_VISIBLE_DEVICES, w.threads]),
    [
      [0, "0", "0", 1],
      [1, "3", "3", 1],
      [2, "5", "5", 1],
    ],
  );
  assert.deepEqual(resolveDevices("5,0", "cuda", 2, fakeGpus(8)).workers.map((w) => w.device), ["5", "0"]);
});

test("auto without GPUs is one CPU worker with every core", () => {
  for (const provider of ["cuda", "cpu"] as const) {
    const plan = resolveDevices("auto", provider, 2, []);
    assert.deepEqual(plan, { kind: "cpu", workers: [{ rank: 0, device: "cpu", env: {}, threads: 2 }] });
  }
});

test("on the CPU: N workers share the cores, at least one thread each", () => {
  assert.deepEqual(resolveDevices(2, "cpu", 2).workers.map((w) => w.threads), [1, 1]);
  assert.deepEqual(resolveDevices(3, "cpu", 8).workers.map((w) => w.threads), [3, 3, 2]);
  assert.deepEqual(resolveDevices(1, "cpu", 8).workers.map((w) => w.threads), [8]);
  // GPUs present but onnxruntime on the CPU: still CPU workers, no CUDA_VISIBLE_DEVICES
  const plan = resolveDevices(2, "cpu", 4, fakeGpus(8));
  assert.equal(plan.kind, "cpu");
  assert.deepEqual(plan.workers.map((w) => w.env), [{}, {}]);
  // cuda with no GPU listed by nvidia-smi runs CPU workers (train refuses more than one: run.ts)
  assert.equal(resolveDevices(2, "cuda", 2, []).kind, "cpu");
});

test("asking for more than there is is a UsageError naming the numbers", () => {
  usageError(() => resolveDevices(8, "cpu", 2), /^--devices 8: only 2 CPU cores here.*--devices 2 or fewer/);
  usageError(() => resolveDevices(3, "cuda", 2, []), /^--devices 3: only 2 CPU cores here/);
  usageError(() => resolveDevices(9, "cuda", 16, fakeGpus(8)), /^--devices 9: only 8 GPUs are visible here \(0, 1, 2, 3, 4, 5, 6, 7\)/);
  usageError(() => resolveDevices("0,3,9", "cuda", 16, fakeGpus(8)), /^--devices 0,3,9: GPU 9 is not visible here/);
  usageError(() => resolveDevices("0,3,5", "cuda", 16, []), /^--devices 0,3,5: no GPU is visible here/);
  usageError(() => resolveDevices("0,3,5", "cpu", 16, fakeGpus(8)), /^--devices 0,3,5: GPU ids need CUDA, but onnxruntime runs on the CPU here/);
  usageError(() => resolveDevices("1,1", "cuda", 16, fakeGpus(8)), /GPU 1 is listed twice/);
  usageError(() => resolveDevices(0, "cpu", 2), /whole number ≥ 1/);
});

test("a count from train.devices is named by its key and where it was set, not as the --devices flag", () => {
  const where = { kind: "config", where: "configs/art.yaml:21" } as const;
  usageError(() => resolveDevices(64, "cpu", 2, [], where), /^configs\/art\.yaml:21: train\.devices 64: only 2 CPU cores here.*so use train\.devices: 2 or fewer$/);
  usageError(() => resolveDevices(9, "cuda", 16, fakeGpus(8), where), /^configs\/art\.yaml:21: train\.devices 9: only 8 GPUs are visible here.*use train\.devices: 8 or fewer$/);
  usageError(() => resolveDevices("0,3", "cpu", 16, [], where), /^configs\/art\.yaml:21: train\.devices 0,3: GPU ids need CUDA.*such as train\.devices: 2$/);

  // through `diffx train`: the config file and line, the --set, or the flag; refused before anything is written
  const dir = tempDir("diffx-devices-");
  const config = path.join(dir, "many-devices.yaml");
  fs.writeFileSync(config, `extends: ${path.join(ROOT, "configs", "ci-tiny.yaml")}\ntrain:\n  devices: 64\n`);
  const cases: [string[], RegExp][] = [
    [[config], new RegExp(`^diffx: ${config.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}:3: train\\.devices 64: only \\d+ CPU cores? here`)],
    [[config, "--set", "train.devices=65"], /^diffx: --set train\.devices=65: train\.devices 65: only \d+ CPU cores? here/],
    [[config, "--devices", "66"], /^diffx: --devices 66: only \d+ CPU cores? here.*use --devices \d+ or fewer$/m],
  ];
  for (const [args, pattern] of cases) {
    const r = runCli(["--backend", "wasm", "train", ...args, "--run-dir", path.join(dir, "run")], { cwd: dir });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, pattern);
    assert.equal(fs.existsSync(path.join(dir, "run")), false);
  }
});

test("parseDevicesSpec: a bare number is a count, a comma makes a GPU list", () => {
  assert.equal(parseDevicesSpec("auto"), "auto");
  assert.equal(parseDevicesSpec("8"), 8);
  assert.equal(parseDevicesSpec("0,3,5"), "0,3,5");
  assert.equal(parseDevicesSpec("3,"), "3");
  usageError(() => parseDevicesSpec("0"), /at least one device/);
  usageError(() => parseDevicesSpec("gpu0"), /expected a count/);
});
