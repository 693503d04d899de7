/**
 * The worker pool with real child processes running test/parallel/fixtures/allreduce-worker.ts:
 * all-reduce across 1–4 processes against a float64 mean computed here, bit-identical results
 * across ranks and runs, CUDA_VISIBLE_DEVICES per worker, and the failure paths (crash, hang,
 * reported error, Ctrl-C) ending every child.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { RuntimeFailure } from "../../src/errors.js";
import { resolveDevices, type GpuInfo, type WorkerDevice } from "../../src/train/parallel/devices.js";
import { startWorkers, type WorkerPool } from "../../src/train/parallel/pool.js";
import { fixtureArray, type FixtureResult } from "./fixtures/allreduce-worker.js";
import { alive } from "../helpers/process.js";

const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures", "allreduce-worker.ts");
const EXEC_ARGV = ["--import", "tsx"];
const LENS = [1, 2, 3, 5, 1000, 4099, 100_003];
const SEED = 11;

function fakeGpus(n: number): GpuInfo[] {
  return Array.from({ length: n }, (_, i) => ({ id: String(i), name: "fake", memoryMiB: 1024 }));
}

function cpuWorkers(n: number): WorkerDevice[] {
  return resolveDevices(n, "cpu", Math.max(n, 2)).workers;
}

interface StartExtra {
  timeoutMs?: number;
  graceMs?: number;
  onMessage?: (rank: number, body: unknown) => void;
  signal?: AbortSignal;
}

function start(workers: WorkerDevice[], args: string[], extra: StartExtra = {}): WorkerPool {
  return startWorkers({
    script: FIXTURE,
    args,
    workers,
    timeoutMs: extra.timeoutMs ?? 20_000,
    execArgv: EXEC_ARGV,
    graceMs: extra.graceMs ?? 2000,
    onMessage: extra.onMessage,
    signal: extra.signal,
  });
}

function assertNoSurvivors(pool: WorkerPool): void {
  for (const pid of pool.pids) assert.equal(alive(pid), false, `worker process ${pid} is still alive`);
  assert.equal(fs.existsSync(pool.rendezvousDir), false, "rendezvous folder left behind");
}

async function rejectsWith(pool: WorkerPool, pattern: RegExp): Promise<string> {
  let message = "";
  await assert.rejects(pool.result, (err: unknown) => {
    assert.ok(err instanceof RuntimeFailure, `expected a RuntimeFailure, got ${String(err)}`);
    assert.equal(err.exitCode, 1);
    message = err.message;
    assert.match(err.message, pattern);
    return true;
  });
  return message;
}

// star runs the same socket code as ring; test/parallel/allreduce.test.ts covers it in-process
const ALGS = ["shm", "ring"] as const;

async function runAverages(workers: WorkerDevice[]): Promise<FixtureResult[]> {
  const pool = start(workers, ["--lens", LENS.join(","), "--seed", String(SEED), "--algs", ALGS.join(",")]);
  const results = (await pool.result) as FixtureResult[];
  assertNoSurvivors(pool);
  return results;
}

function checkAgainstMean(results: FixtureResult[], world: number): void {
  assert.equal(results.length, world);
  for (const [a, algorithm] of ALGS.entries()) {
    for (const [round, len] of LENS.entries()) {
      const inputs = Array.from({ length: world }, (_, r) => fixtureArray(SEED, r, round, len));
      let worst = 0;
      for (let i = 0; i < len; i++) {
        let sum = 0;
        for (const x of inputs) sum += x[i];
        worst = Math.max(worst, Math.abs(results[0].values[a][round][i] - sum / world));
      }
      assert.ok(worst <= 1e-6, `${algorithm}, ${world} workers, length ${len}: off by ${worst}`);
      for (let r = 1; r < world; r++) assert.equal(results[r].digests[a][round], results[0].digests[a][round], `${algorithm}, ${world} workers, length ${len}: rank ${r} differs`);
    }
  }
}

test("all-reduce across 1, 2 and 4 CPU worker processes (shm, ring): the mean, identical on every rank and on a second run", async () => {
  for (const world of [1, 2, 4]) {
    const first = await runAverages(cpuWorkers(world));
    checkAgainstMean(first, world);
    first.forEach((r, i) => {
      assert.equal(r.rank, i);
      assert.equal(r.world, world);
      assert.equal(r.device, "cpu");
    });
    if (world < 4) continue; // one repeat (the widest group) is enough to show run-to-run identity
    const second = await runAverages(cpuWorkers(world));
    assert.deepEqual(
      second.map((r) => r.digests),
      first.map((r) => r.digests),
      `${world} workers: the second run gave different bits`,
    );
  }
});

test('3 workers on GPUs "0,3,5": each sees only its GPU in CUDA_VISIBLE_DEVICES, in PCI order (so CUDA ordinal 0 is that GPU); the mean matches', async () => {
  const plan = resolveDevices("0,3,5", "cuda", 2, fakeGpus(8));
  const results = await runAverages(plan.workers);
  checkAgainstMean(results, 3);
  assert.deepEqual(
    results.map((r) => [r.rank, r.device, r.cuda, r.order, r.threads]),
    [
      [0, "0", "0", "PCI_BUS_ID", 1],
      [1, "3", "3", "PCI_BUS_ID", 1],
      [2, "5", "5", "PCI_BUS_ID", 1],
    ],
  );
});

test("a worker that exits with code 1 mid-run: the pool rejects naming its rank and device, no child survives", async () => {
  const plan = resolveDevices("0,3,5", "cuda", 2, fakeGpus(8));
  const pool = start(plan.workers, ["--lens", "100,100,100,100", "--crash-rank", "1", "--crash-round", "2"]);
  const message = await rejectsWith(pool, /^worker rank 1 \(GPU 3\) crashed \(exit code 1\)/);
  assert.match(message, /simulated crash/);
  assertNoSurvivors(pool);
});

test("a worker that hangs: the watchdog names it, every child is stopped", async () => {
  const messages: unknown[] = [];
  const pool = start(cpuWorkers(3), ["--lens", "50,50,50", "--hang-rank", "2", "--hang-round", "1"], {
    timeoutMs: 3000,
    onMessage: (rank, body) => messages.push({ rank, body }),
  });
  await rejectsWith(pool, /^worker rank 2 \(CPU\) sent nothing for [\d.]+ s \(timeout 3 s\): it is hung$/);
  assertNoSurvivors(pool);
  assert.ok(messages.length >= 3, "round 0 progress arrived through onMessage");
});

test("a worker that reports an error: the pool rejects with its message", async () => {
  const pool = start(cpuWorkers(2), ["--error-rank", "1"]);
  await rejectsWith(pool, /^worker rank 1 \(CPU\) failed: simulated failure in the fixture$/);
  assertNoSurvivors(pool);
});

test("stopAll (Ctrl-C): SIGINT to every worker, SIGKILL for one that ignores it", async () => {
  let resolveFirst!: () => void;
  const firstRound = new Promise<void>((resolve) => (resolveFirst = resolve));
  const pool = start(cpuWorkers(2), ["--lens", "10,10,10,10,10,10,10,10,10,10", "--pause-ms", "1000", "--ignore-sigint"], {
    graceMs: 500,
    onMessage: () => resolveFirst(),
  });
  await firstRound;
  const t0 = Date.now();
  await pool.stopAll("interrupted (Ctrl-C)");
  assert.ok(Date.now() - t0 >= 400, "the grace period was given before SIGKILL");
  await rejectsWith(pool, /^interrupted \(Ctrl-C\): stopped all 2 workers$/);
  assertNoSurvivors(pool);
});

test("a graceful stop: workers that catch SIGINT finish their round and the result resolves", async () => {
  const ctrl = new AbortController();
  const seen = new Set<number>();
  let resolveBoth!: () => void;
  const bothReported = new Promise<void>((resolve) => (resolveBoth = resolve));
  const pool = start(cpuWorkers(2), ["--lens", "10,10,10,10,10,10,10,10,10,10", "--pause-ms", "1500", "--graceful"], {
    graceMs: 10_000,
    signal: ctrl.signal,
    onMessage: (rank) => {
      seen.add(rank);
      if (seen.size === 2) resolveBoth();
    },
  });
  await bothReported;
  ctrl.abort();
  const results = (await pool.result) as FixtureResult[];
  assert.equal(results.length, 2);
  assert.ok(results[0].values[0].length < 10, "stopped early");
  assert.equal(results[1].values[0].length, results[0].values[0].length, "both ranks stopped after the same round");
  assertNoSurvivors(pool);
});
