/**
 * AllReduce with every rank in this one process (the sockets are real; only the processes are
 * shared), which makes many sizes and failure cases cheap. test/parallel/pool.test.ts runs the
 * same code across real worker processes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Rng } from "../../src/engine/rng.js";
import { RuntimeFailure } from "../../src/errors.js";
import { AllReduce, PeerFailure, type AllReduceAlgorithm } from "../../src/train/parallel/allreduce.js";
import { paramsDigest } from "../../src/train/parallel/digest.js";

function freshDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "diffx-ar-test-"));
  process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function group(world: number, algorithm: AllReduceAlgorithm, timeoutMs = 10_000): Promise<AllReduce[]> {
  const dir = freshDir();
  // start the ranks in reverse order: connect must not depend on who comes first
  const ranks = Array.from({ length: world }, (_, r) => world - 1 - r);
  const joined = await Promise.all(ranks.map((r) => AllReduce.connect(r, world, dir, timeoutMs, { algorithm })));
  return joined.sort((a, b) => a.rank - b.rank);
}

function inputs(world: number, len: number, round: number): Float32Array[] {
  return Array.from({ length: world }, (_, r) => new Rng(7, "allreduce-test", r, round).normals(len));
}

/** The mean in float64, computed here without the code under test. */
function mean64(arrays: Float32Array[]): Float64Array {
  const out = new Float64Array(arrays[0].length);
  for (const a of arrays) for (let i = 0; i < a.length; i++) out[i] += a[i];
  for (let i = 0; i < out.length; i++) out[i] /= arrays.length;
  return out;
}

function bytes(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

const LENGTHS = [0, 1, 2, 3, 5, 7, 64, 1001, 65_537, 300_007];

for (const algorithm of ["ring", "star", "shm"] as const) {
  test(`${algorithm}: the mean of 1–5 ranks within 1e-6, the same bits on every rank and every run`, async () => {
    for (const world of [1, 2, 3, 4, 5]) {
      const runs: string[][] = [];
      for (let run = 0; run < 2; run++) {
        const ranks = await group(world, algorithm);
        const digests: string[] = [];
        try {
          for (const [round, len] of LENGTHS.entries()) {
            const bufs = inputs(world, len, round);
            const expected = mean64(bufs);
            await Promise.all(ranks.map((g, r) => g.average(bufs[r])));
            let worst = 0;
            for (let i = 0; i < len; i++) worst = Math.max(worst, Math.abs(bufs[0][i] - expected[i]));
            assert.ok(worst <= 1e-6, `world ${world}, length ${len}: off by ${worst}`);
            for (let r = 1; r < world; r++) assert.ok(bytes(bufs[r]).equals(bytes(bufs[0])), `world ${world}, length ${len}: rank ${r} differs from rank 0`);
            digests.push(paramsDigest([bufs[0]]));
          }
        } finally {
          for (const g of ranks) g.close();
        }
        runs.push(digests);
      }
      assert.deepEqual(runs[1], runs[0], `world ${world}: two runs gave different bits`);
    }
  });
}

test("every algorithm sums in a fixed order: 3 ranks reproduce a hand-ordered float32 sum", async () => {
  // values chosen so that float32 addition order matters: 1e8 + 1 − 1e8
  const x = [Float32Array.of(1e8, 1, 3), Float32Array.of(1, -1e8, 5), Float32Array.of(-1e8, 1e8, 7)];
  const f = Math.fround;
  for (const algorithm of ["ring", "star", "shm"] as const) {
    const ranks = await group(3, algorithm);
    const bufs = x.map((a) => a.slice());
    await Promise.all(ranks.map((g, r) => g.average(bufs[r])));
    for (const g of ranks) g.close();
    // star, shm: (x0 + x1) + x2 for every element; ring: chunk c (one element each here) starts at rank c
    const expected =
      algorithm !== "ring"
        ? [0, 1, 2].map((i) => f(f(f(x[0][i] + x[1][i]) + x[2][i]) / 3))
        : [0, 1, 2].map((c) => f(f(f(x[c][c] + x[(c + 1) % 3][c]) + x[(c + 2) % 3][c]) / 3));
    assert.deepEqual(Array.from(bufs[0]), expected, algorithm);
    assert.deepEqual(Array.from(bufs[2]), expected, algorithm);
  }
});

test("many calls in a row on a reused buffer stay consistent", async () => {
  const ranks = await group(3, "ring");
  try {
    const bufs = inputs(3, 1000, 0);
    for (let k = 0; k < 20; k++) {
      for (const [r, b] of bufs.entries()) b[k] += r; // ranks drift apart, then get averaged again
      await Promise.all(ranks.map((g, r) => g.average(bufs[r])));
      assert.equal(paramsDigest([bufs[1]]), paramsDigest([bufs[0]]));
      assert.equal(paramsDigest([bufs[2]]), paramsDigest([bufs[0]]));
    }
  } finally {
    for (const g of ranks) g.close();
  }
});

async function rejectsNaming(p: Promise<unknown>, peer: number, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof PeerFailure, `expected a PeerFailure, got ${String(err)}`);
    assert.ok(err instanceof RuntimeFailure);
    assert.equal(err.peer, peer);
    assert.match(err.message, pattern);
    return true;
  });
}

test("a rank that never joins: connect fails naming it", async () => {
  const dir = freshDir();
  const started = Date.now();
  await rejectsNaming(AllReduce.connect(0, 2, dir, 400), 1, /rank 1 did not (connect|open)/);
  assert.ok(Date.now() - started < 5000);
});

for (const algorithm of ["ring", "star", "shm"] as const) {
  test(`${algorithm}: a peer that stops answering → timeout naming it; the group stays broken`, async () => {
    const [a, b] = await group(2, algorithm, 400);
    try {
      await rejectsNaming(a.average(new Float32Array(100)), 1, /rank 0 heard nothing from rank 1 for 400 ms/);
      await assert.rejects(a.average(new Float32Array(100)), /heard nothing from rank 1/);
    } finally {
      a.close();
      b.close();
    }
  });

  test(`${algorithm}: a peer that goes away → failure naming it`, async () => {
    const [a, b] = await group(2, algorithm);
    b.close();
    await rejectsNaming(a.average(new Float32Array(100)), 1, /rank 1 closed its connection/);
    a.close();
  });

  test(`${algorithm}: ranks that disagree on the length fail with a clear message`, async () => {
    const ranks = await group(2, algorithm, 2000);
    const results = await Promise.allSettled([ranks[0].average(new Float32Array(10)), ranks[1].average(new Float32Array(11))]);
    for (const g of ranks) g.close();
    const messages = results.flatMap((r) => (r.status === "rejected" ? [String((r.reason as Error).message)] : []));
    assert.ok(
      messages.some((m) => /averages 1[01] floats but rank [01] has 1[01]/.test(m)),
      messages.join(" | "),
    );
  });
}

test("rank and world are checked", async () => {
  const dir = freshDir();
  await assert.rejects(AllReduce.connect(2, 2, dir, 100), /rank 2 is outside 0…1/);
  await assert.rejects(AllReduce.connect(0, 0, dir, 100), /world size/);
});

test("paramsDigest is sha256 of the float32 bytes (reference: Python hashlib)", () => {
  // python3 -c "import hashlib,struct; print(hashlib.sha256(struct.pack('<2f',1.0,2.0)+struct.pack('<1f',-0.5)).hexdigest())"
  assert.equal(paramsDigest([Float32Array.of(1, 2), Float32Array.of(-0.5)]), "1ffe038578726b0db1430093131187306c7d4859c5dfbbabac87a9637825787c");
  // a view into a larger buffer hashes only its own bytes
  const big = Float32Array.of(9, 1, 2, -0.5, 9);
  assert.equal(paramsDigest([big.subarray(1, 4)]), "1ffe038578726b0db1430093131187306c7d4859c5dfbbabac87a9637825787c");
  assert.equal(paramsDigest([]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
});

test("shm: no file is left in the shared-memory folder, even while the group is open", async () => {
  const shmDir = freshDir();
  const dir = freshDir();
  const ranks = await Promise.all([0, 1, 2].map((r) => AllReduce.connect(r, 3, dir, 5000, { algorithm: "shm", shmDir })));
  assert.deepEqual(fs.readdirSync(shmDir), [], "files are unlinked once every rank has them open");
  const bufs = inputs(3, 5000, 0);
  const expected = mean64(bufs);
  await Promise.all(ranks.map((g, r) => g.average(bufs[r])));
  assert.ok(Math.abs(bufs[2][4999] - expected[4999]) <= 1e-6);
  for (const g of ranks) g.close();
  assert.deepEqual(fs.readdirSync(shmDir), []);
});

test("ranks that disagree on the algorithm do not form a group", async () => {
  const dir = freshDir();
  const results = await Promise.allSettled([AllReduce.connect(0, 2, dir, 1000, { algorithm: "ring" }), AllReduce.connect(1, 2, dir, 1000, { algorithm: "shm" })]);
  for (const r of results) if (r.status === "fulfilled") r.value.close();
  assert.ok(
    results.some((r) => r.status === "rejected" && /uses a different algorithm/.test(String((r.reason as Error).message))),
    results.map((r) => (r.status === "rejected" ? String((r.reason as Error).message) : "ok")).join(" | "),
  );
});
