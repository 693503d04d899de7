/**
 * Gradient averaging across the worker processes of one machine: Unix domain sockets in a
 * shared rendezvous folder connect every pair of ranks, and tensors travel as raw float32 bytes
 * (no JSON), either over those sockets or through shared-memory files (the default, shm).
 *
 * Three algorithms, all deterministic:
 * - **ring** (reduce-scatter, then all-gather): the buffer is cut into `world` chunks; chunk c
 *   is summed around the ring starting at rank c, ((x_c + x_{c+1}) + x_{c+2}) + … + x_{c−1}
 *   (ranks mod world), divided by `world` by the one rank that finishes it, and that rank's
 *   float32 result is copied verbatim to every other rank. Each rank sends and receives
 *   2·(world−1)/world of the buffer.
 * - **star** (reduce at rank 0, then broadcast): rank 0 sums x_0 + x_1 + … + x_{world−1} in rank
 *   order, divides by `world`, and sends its result to every rank. Rank 0 moves
 *   2·(world−1) buffers; the others one each way.
 * - **shm** (reduce-scatter and all-gather through shared memory): every rank writes its buffer
 *   to its own file in /dev/shm (tmpfs, i.e. RAM), the ranks meet at a barrier (a few bytes over
 *   the sockets), rank r reads chunk r of every other rank's file and sums it in rank order,
 *   x_0 + x_1 + … + x_{world−1}, divides by `world` and writes the result back; after a second
 *   barrier every rank reads the finished chunks of the others. Large reads and writes instead
 *   of 200 KB socket transfers: each rank copies ≈ 3 buffers' worth of bytes, with few syscalls.
 *   The files are unlinked as soon as every rank has opened them, so nothing is left in /dev/shm
 *   even when a worker is killed.
 *
 * Results are therefore the same bits on every rank (every rank ends with a byte copy of the
 * one computed value), and the same bits on every run (the summation order is fixed by rank and
 * chunk, never by arrival time). This is what keeps the parameters identical across workers.
 * The order does depend on `world`, so different worker counts agree only to float32 rounding.
 *
 * Which is fastest was measured with bench/allreduce.ts (see DEFAULT_ALGORITHM).
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { RuntimeFailure } from "../../errors.js";
import { formatSeconds, Inbound, Outbound, PeerFailure } from "./link.js";

export { PeerFailure } from "./link.js";

export type AllReduceAlgorithm = "ring" | "star" | "shm";

/**
 * shm was the fastest overall in bench/allreduce.ts on the 2-core development machine. Median
 * ms per average() over three runs (the machine was shared, load 10–18, so the spread is wide):
 *
 *   floats        workers   ring           star            shm
 *   1,373,155        2      26 / 40 / 26   27 / 38 / 11    16 / 17 / 18
 *   1,373,155        4      37 / 57 / 75   34 / 79 / 59    23 / 38 / 40
 *   1,373,155        8     108 / 163      130 / 244        71 / 79
 *   49,124,483       2     726 / 1232 / 651   491 / 561 / 854     415 / 618 / 537   (art.yaml)
 *   49,124,483       4    1080 / 1971 / 1401  1874 / 3467 / 3494  979 / 1473 / 1116
 *
 * and it used the least CPU at the art size (4 workers, all ranks: shm 780–1050 ms, ring
 * 950–1130, star 1140–1280). Socket transfers go through the kernel in ≈ 200 KB pieces (the
 * socket buffer), each a syscall and a wake-up of the other process; the shm files move each
 * buffer in one read or write. The star's rank 0 moves 2·(N−1) buffers and falls behind as N
 * grows. ring stays as the all-socket alternative.
 */
export const DEFAULT_ALGORITHM: AllReduceAlgorithm = "shm";

export interface AllReduceOptions {
  algorithm?: AllReduceAlgorithm;
  /** Where the shm algorithm keeps its files (default: /dev/shm, else the rendezvous folder). */
  shmDir?: string;
}

const HELLO_MAGIC = 0x52584644; // "DFXR"
const HELLO_BYTES = 16;
const ALGORITHM_CODES: Record<AllReduceAlgorithm, number> = { ring: 1, star: 2, shm: 3 };
/** Every algorithm, for a caller that takes one by name. */
export const ALL_REDUCE_ALGORITHMS = Object.keys(ALGORITHM_CODES) as AllReduceAlgorithm[];
const BARRIER_BYTES = 12;
const RETRY_MS = 20;

/** The socket file of one rank inside the rendezvous folder. */
export function socketPath(rendezvousDir: string, rank: number): string {
  return path.join(rendezvousDir, `rank-${rank}.sock`);
}

function hello(rank: number, world: number, algorithm: AllReduceAlgorithm): Uint8Array {
  const bytes = new Uint8Array(HELLO_BYTES);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, HELLO_MAGIC, true);
  view.setUint32(4, ALGORITHM_CODES[algorithm], true);
  view.setUint32(8, rank, true);
  view.setUint32(12, world, true);
  return bytes;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function asBytes(a: Float32Array, start = 0, end = a.length): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset + start * 4, (end - start) * 4);
}

/** /dev/shm smaller than this (Docker's default is 64 MB) is passed over for the rendezvous folder. */
const MIN_SHM_BYTES = 1024 ** 3;

/**
 * The default place for the shm algorithm's files: /dev/shm when it is a writable folder of at
 * least 1 GiB, else the rendezvous folder (the page cache still serves it from memory). The test
 * uses the total size, not the free space, so every rank decides the same.
 */
function defaultShmDir(rendezvousDir: string): string {
  try {
    fs.accessSync("/dev/shm", fs.constants.W_OK);
    const st = fs.statfsSync("/dev/shm");
    if (fs.statSync("/dev/shm").isDirectory() && st.blocks * st.bsize >= MIN_SHM_BYTES) return "/dev/shm";
  } catch {
    // no /dev/shm (macOS, some containers)
  }
  return rendezvousDir;
}

function shmFailure(what: string, file: string, err: unknown): RuntimeFailure {
  const e = err as NodeJS.ErrnoException;
  if (e.code === "ENOSPC") {
    return new RuntimeFailure(`all-reduce (shm): no space left in ${path.dirname(file)} while ${what}; each worker needs about 2× the gradient size there (give the container a larger /dev/shm, e.g. docker --shm-size, or use the ring algorithm)`);
  }
  return new RuntimeFailure(`all-reduce (shm): ${what} ${file} failed: ${e.message}`);
}

function writeAll(fd: number, file: string, bytes: Uint8Array, position: number): void {
  let done = 0;
  try {
    while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done, position + done);
  } catch (err) {
    throw shmFailure("writing", file, err);
  }
}

function readAll(fd: number, file: string, bytes: Uint8Array, position: number): void {
  let done = 0;
  try {
    while (done < bytes.length) {
      const n = fs.readSync(fd, bytes, done, bytes.length - done, position + done);
      if (n === 0) throw new Error(`the file ended after ${position + done} bytes`);
      done += n;
    }
  } catch (err) {
    throw shmFailure("reading", file, err);
  }
}

/**
 * Two files per rank: its input, and the chunk it finished. They are separate so that writing
 * the next call's input (of any length) can never touch a result another rank is still reading.
 * files[2q] / files[2q + 1] are rank q's input / result file; fds alike, open for writing (own)
 * or reading (others).
 */
/**
 * dst[d + i] += src[s + i] for i < count, in float32 (each element on its own, so the result
 * does not depend on how the work is split). Unrolled by 4: ≈ 35 % faster in V8 than the plain loop.
 */
function addInto(dst: Float32Array, d: number, src: Float32Array, s: number, count: number): void {
  let i = 0;
  for (; i + 3 < count; i += 4) {
    dst[d + i] += src[s + i];
    dst[d + i + 1] += src[s + i + 1];
    dst[d + i + 2] += src[s + i + 2];
    dst[d + i + 3] += src[s + i + 3];
  }
  for (; i < count; i++) dst[d + i] += src[s + i];
}

interface ShmFiles {
  files: string[];
  fds: number[];
}

/** Dial `target`'s socket for reading, retrying while it does not exist yet, until `deadline`. */
async function dial(file: string, target: number, self: number, timeoutMs: number, deadline: number): Promise<Inbound> {
  for (;;) {
    try {
      return await Inbound.open(file, target, self, timeoutMs);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const retriable = e.code === "ENOENT" || e.code === "ECONNREFUSED" || e.code === "EAGAIN";
      if (!retriable) throw new RuntimeFailure(`all-reduce: rank ${self} cannot connect to rank ${target} at ${file} (${e.message})`);
      if (Date.now() >= deadline) {
        throw new PeerFailure(`all-reduce: rank ${target} did not open its socket ${file} within ${formatSeconds(timeoutMs)} (rank ${self} waited)`, target);
      }
      await sleep(RETRY_MS);
    }
  }
}

/** The first HELLO_BYTES bytes a dialing rank sends on a freshly accepted socket. */
function readHello(socket: net.Socket): Promise<DataView> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let got = 0;
    const onData = (chunk: Buffer): void => {
      parts.push(chunk);
      got += chunk.length;
      if (got < HELLO_BYTES) return;
      socket.off("data", onData);
      socket.off("close", onClose);
      const all = Buffer.concat(parts);
      resolve(new DataView(all.buffer, all.byteOffset, HELLO_BYTES));
    };
    const onClose = (): void => reject(new RuntimeFailure("all-reduce: a connecting rank closed its connection before saying who it is"));
    socket.on("data", onData);
    socket.once("close", onClose);
    socket.on("error", () => {}); // reported through "close"
  });
}

export class AllReduce {
  private busy = false;
  private broken: Error | null = null;
  private readonly header = new Uint32Array(2);
  private calls = 0;
  /** Reused receive space, one per peer: fresh memory is expensive to touch (see link.ts). */
  private readonly scratch: Float32Array[] = [];
  private shm: ShmFiles | null = null;

  private constructor(
    readonly rank: number,
    readonly world: number,
    readonly algorithm: AllReduceAlgorithm,
    /** inbound[q] carries data from rank q to this rank (undefined for q = rank). */
    private readonly inbound: (Inbound | undefined)[],
    /** outbound[q] carries data from this rank to rank q. */
    private readonly outbound: (Outbound | undefined)[],
  ) {}

  /**
   * Join the group: every rank calls this with the same `world`, `rendezvousDir` and algorithm.
   * Rank r listens on `<dir>/rank-r.sock` and dials every other rank's socket (it reads from
   * the connections it dialed and writes to the ones it accepted), so the ranks may start in
   * any order. Rejects with a RuntimeFailure naming the missing rank when the group is not
   * complete within `timeoutMs`. `timeoutMs` is also the silence after which a peer counts as
   * hung during average().
   */
  static async connect(rank: number, world: number, rendezvousDir: string, timeoutMs: number, opts: AllReduceOptions = {}): Promise<AllReduce> {
    if (!Number.isInteger(world) || world < 1) throw new RuntimeFailure(`all-reduce: world size must be a whole number ≥ 1, got ${world}`);
    if (!Number.isInteger(rank) || rank < 0 || rank >= world) throw new RuntimeFailure(`all-reduce: rank ${rank} is outside 0…${world - 1}`);
    const algorithm = opts.algorithm ?? DEFAULT_ALGORITHM;
    const inbound: (Inbound | undefined)[] = new Array(world).fill(undefined);
    const outbound: (Outbound | undefined)[] = new Array(world).fill(undefined);
    if (world === 1) return new AllReduce(rank, world, algorithm, inbound, outbound);

    const deadline = Date.now() + timeoutMs;
    const file = socketPath(rendezvousDir, rank);
    const accepted: net.Socket[] = [];
    let acceptTimer: NodeJS.Timeout | undefined;
    fs.rmSync(file, { force: true });
    const server = net.createServer();
    try {
      const acceptAll = new Promise<void>((resolve, reject) => {
        let waiting = world - 1;
        server.on("connection", (socket) => {
          accepted.push(socket);
          readHello(socket).then((v) => {
            const peer = v.getUint32(8, true);
            const peerWorld = v.getUint32(12, true);
            if (v.getUint32(0, true) !== HELLO_MAGIC) return reject(new RuntimeFailure(`all-reduce: something that is not a diffx worker connected to ${file}`));
            if (peerWorld !== world) return reject(new RuntimeFailure(`all-reduce: rank ${peer} thinks there are ${peerWorld} workers, rank ${rank} thinks ${world}`));
            if (v.getUint32(4, true) !== ALGORITHM_CODES[algorithm]) return reject(new RuntimeFailure(`all-reduce: rank ${peer} uses a different algorithm than rank ${rank} (${algorithm})`));
            if (peer === rank || peer >= world || outbound[peer]) return reject(new RuntimeFailure(`all-reduce: unexpected connection from rank ${peer} at rank ${rank}`));
            outbound[peer] = new Outbound(socket, peer, rank, timeoutMs);
            if (--waiting === 0) resolve();
          }, reject);
        });
        server.on("error", reject);
        acceptTimer = setTimeout(() => {
          const missing: number[] = [];
          for (let q = 0; q < world; q++) if (q !== rank && !outbound[q]) missing.push(q);
          reject(new PeerFailure(`all-reduce: rank${missing.length > 1 ? "s" : ""} ${missing.join(", ")} did not connect to rank ${rank} within ${formatSeconds(timeoutMs)}`, missing[0] ?? -1));
        }, timeoutMs);
      });
      acceptAll.catch(() => {}); // awaited below; this only stops an early rejection counting as unhandled
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(file, () => {
          server.off("error", reject);
          resolve();
        });
      });
      // dial the ranks after this one first, so not every rank queues on rank 0
      for (let k = 1; k < world; k++) {
        const q = (rank + k) % world;
        const link = await dial(socketPath(rendezvousDir, q), q, rank, timeoutMs, deadline);
        inbound[q] = link;
        link.socket.write(hello(rank, world, algorithm));
      }
      await acceptAll;
    } catch (err) {
      for (const l of inbound) l?.close();
      for (const s of accepted) s.destroy();
      throw err;
    } finally {
      clearTimeout(acceptTimer);
      server.close();
      fs.rmSync(file, { force: true });
    }
    const group = new AllReduce(rank, world, algorithm, inbound, outbound);
    if (algorithm === "shm") {
      try {
        await group.openShm(opts.shmDir ?? defaultShmDir(rendezvousDir), rendezvousDir);
      } catch (err) {
        group.close();
        throw err;
      }
    }
    return group;
  }

  /**
   * Every rank creates its file, all open everyone's, then each unlinks its own: from then on
   * the files live exactly as long as the processes that hold them open.
   */
  private async openShm(dir: string, rendezvousDir: string): Promise<void> {
    const id = createHash("sha256").update(path.resolve(rendezvousDir)).digest("hex").slice(0, 16);
    const files = Array.from({ length: 2 * this.world }, (_, k) => path.join(dir, `diffx-allreduce-${id}-rank-${k >> 1}-${k % 2 === 0 ? "input" : "result"}.bin`));
    const fds: number[] = new Array(2 * this.world).fill(-1);
    this.shm = { files, fds };
    const own = [2 * this.rank, 2 * this.rank + 1];
    for (const k of own) {
      try {
        fds[k] = fs.openSync(files[k], "w+", 0o600);
      } catch (err) {
        throw shmFailure("creating", files[k], err);
      }
    }
    await this.barrier(0, 1);
    for (let k = 0; k < files.length; k++) {
      if (own.includes(k)) continue;
      try {
        fds[k] = fs.openSync(files[k], "r");
      } catch (err) {
        throw shmFailure("opening", files[k], err);
      }
    }
    await this.barrier(0, 2);
    for (const k of own) fs.rmSync(files[k], { force: true });
  }

  /** Every rank sends (length, call, phase) to every other and waits for theirs; checks they agree. */
  private async barrier(length: number, phase: number): Promise<void> {
    const token = new Uint32Array([length, this.calls, phase]);
    const got = Array.from({ length: this.world }, () => new Uint32Array(3));
    const tokenBytes = new Uint8Array(token.buffer);
    const pending: Promise<void>[] = [];
    for (let q = 0; q < this.world; q++) {
      if (q === this.rank) continue;
      pending.push(this.to(q).send(tokenBytes), this.from(q).recv(new Uint8Array(got[q].buffer)));
    }
    await Promise.all(pending);
    for (let q = 0; q < this.world; q++) {
      if (q === this.rank) continue;
      this.checkHeader(got[q], q, length);
      if (got[q][2] !== phase) throw new RuntimeFailure(`all-reduce: rank ${q} is at step ${got[q][2]} of the exchange but rank ${this.rank} is at step ${phase} (internal error)`);
    }
  }

  /**
   * Replace `buf` by the element-wise mean of every rank's `buf`, in place. All ranks call it
   * with buffers of the same length, in the same order. The result is bit-identical on every
   * rank and on every run (see the module comment). Rejects with a RuntimeFailure (a PeerFailure
   * naming the rank) when a peer goes away or stays silent past the timeout; after that the
   * group is broken and every later call rejects too.
   */
  async average(buf: Float32Array): Promise<void> {
    if (this.broken) throw this.broken;
    if (this.busy) throw new RuntimeFailure(`all-reduce: rank ${this.rank} called average() while the previous call was still running`);
    if (this.world === 1) return;
    this.busy = true;
    try {
      this.calls++;
      if (this.algorithm === "ring") await this.ring(buf);
      else if (this.algorithm === "star") await this.star(buf);
      else await this.shmAverage(buf);
    } catch (err) {
      this.broken = err instanceof Error ? err : new RuntimeFailure(String(err));
      throw this.broken;
    } finally {
      this.busy = false;
    }
  }

  /** Agree on length and call number with `peer` before moving data, so a mismatch is an error, not garbage. */
  private checkHeader(peerHeader: Uint32Array, peer: number, length: number): void {
    if (peerHeader[1] !== this.calls) {
      throw new RuntimeFailure(`all-reduce: rank ${peer} is at average() call ${peerHeader[1]} but rank ${this.rank} is at call ${this.calls}`);
    }
    if (peerHeader[0] !== length) {
      throw new RuntimeFailure(`all-reduce: rank ${peer} averages ${peerHeader[0]} floats but rank ${this.rank} has ${length}`);
    }
  }

  private from(q: number): Inbound {
    const l = this.inbound[q];
    if (!l) throw new RuntimeFailure(`all-reduce: rank ${this.rank} has no connection from rank ${q} (internal error)`);
    return l;
  }

  private to(q: number): Outbound {
    const l = this.outbound[q];
    if (!l) throw new RuntimeFailure(`all-reduce: rank ${this.rank} has no connection to rank ${q} (internal error)`);
    return l;
  }

  /** Reused receive space `slot` of at least `floats` floats. */
  private space(slot: number, floats: number): Float32Array {
    const have = this.scratch[slot];
    if (have && have.length >= floats) return have.subarray(0, floats);
    const fresh = new Float32Array(floats);
    this.scratch[slot] = fresh;
    return fresh;
  }

  private async ring(buf: Float32Array): Promise<void> {
    const n = this.world;
    const r = this.rank;
    const len = buf.length;
    const bound = (c: number): number => Math.floor((c * len) / n);
    const mod = (c: number): number => ((c % n) + n) % n;
    const prevRank = mod(r - 1);
    const next = this.to(mod(r + 1));
    const prev = this.from(prevRank);

    const peerHeader = new Uint32Array(2);
    this.header[0] = len;
    this.header[1] = this.calls;
    await Promise.all([next.send(new Uint8Array(this.header.buffer)), prev.recv(new Uint8Array(peerHeader.buffer))]);
    this.checkHeader(peerHeader, prevRank, len);

    let maxChunk = 0;
    for (let c = 0; c < n; c++) maxChunk = Math.max(maxChunk, bound(c + 1) - bound(c));
    const scratch = this.space(0, maxChunk);

    // reduce-scatter: after step s, rank r holds the sum of s + 2 ranks' chunk (r − s − 1).
    // The received part is added as it lands, overlapping the add with the transfer.
    for (let s = 0; s < n - 1; s++) {
      const sendC = mod(r - s);
      const recvC = mod(r - s - 1);
      const lo = bound(recvC);
      const count = bound(recvC + 1) - lo;
      const incoming = scratch.subarray(0, count);
      let added = 0;
      // the last step completes chunk r + 1, which this rank owns: add and divide in one pass
      const last = s === n - 2;
      const addArrived = (filledBytes: number): void => {
        const upTo = filledBytes >> 2;
        if (last) for (let i = added; i < upTo; i++) buf[lo + i] = Math.fround(buf[lo + i] + incoming[i]) / n;
        else addInto(buf, lo + added, incoming, added, upTo - added);
        added = upTo;
      };
      await Promise.all([next.send(asBytes(buf, bound(sendC), bound(sendC + 1))), prev.recv(asBytes(incoming), addArrived)]);
      addArrived(count * 4);
    }
    // all-gather: pass finished chunks around the ring, copied byte for byte
    for (let s = 0; s < n - 1; s++) {
      const sendC = mod(r + 1 - s);
      const recvC = mod(r - s);
      await Promise.all([next.send(asBytes(buf, bound(sendC), bound(sendC + 1))), prev.recv(asBytes(buf, bound(recvC), bound(recvC + 1)))]);
    }
  }

  private async star(buf: Float32Array): Promise<void> {
    const n = this.world;
    const len = buf.length;
    this.header[0] = len;
    this.header[1] = this.calls;
    if (this.rank !== 0) {
      const root = this.to(0);
      await root.send(new Uint8Array(this.header.buffer));
      await root.send(asBytes(buf));
      await this.from(0).recv(asBytes(buf));
      return;
    }
    const incoming: Float32Array[] = [];
    const receives: Promise<void>[] = [];
    for (let q = 1; q < n; q++) {
      const link = this.from(q);
      const h = new Uint32Array(2);
      const data = this.space(q, len);
      incoming.push(data);
      receives.push(
        link.recv(new Uint8Array(h.buffer)).then(() => {
          this.checkHeader(h, q, len);
          return link.recv(asBytes(data));
        }),
      );
    }
    await Promise.all(receives);
    // the sum in rank order, x_0 + x_1 + … + x_{n−1}, whatever order the data arrived in
    for (const [k, data] of incoming.entries()) {
      if (k < incoming.length - 1) addInto(buf, 0, data, 0, len);
      else for (let i = 0; i < len; i++) buf[i] = Math.fround(buf[i] + data[i]) / n;
    }
    const sends: Promise<void>[] = [];
    for (let q = 1; q < n; q++) sends.push(this.to(q).send(asBytes(buf)));
    await Promise.all(sends);
  }

  private async shmAverage(buf: Float32Array): Promise<void> {
    const shm = this.shm;
    if (!shm) throw new RuntimeFailure(`all-reduce: rank ${this.rank} has no shared-memory files (internal error)`);
    const n = this.world;
    const r = this.rank;
    const len = buf.length;
    const bound = (c: number): number => Math.floor((c * len) / n);
    const bytes = asBytes(buf);
    // rank q's input file holds its buffer; its result file holds its finished chunk at the chunk's own offset
    const input = (q: number): number => 2 * q;
    const result = (q: number): number => 2 * q + 1;
    writeAll(shm.fds[input(r)], shm.files[input(r)], bytes, 0);
    await this.barrier(len, 3);
    const lo = bound(r);
    const count = bound(r + 1) - lo;
    const sum = this.space(0, count);
    const part = this.space(1, count);
    for (let q = 0; q < n; q++) {
      const src = q === r ? buf.subarray(lo, lo + count) : part;
      if (q !== r) readAll(shm.fds[input(q)], shm.files[input(q)], asBytes(part), lo * 4);
      if (q === 0) sum.set(src);
      else if (q < n - 1) addInto(sum, 0, src, 0, count);
      else for (let i = 0; i < count; i++) sum[i] = Math.fround(sum[i] + src[i]) / n; // last one: add and divide in one pass
    }
    buf.set(sum, lo);
    writeAll(shm.fds[result(r)], shm.files[result(r)], asBytes(sum), lo * 4);
    await this.barrier(len, 4);
    for (let q = 0; q < n; q++) {
      if (q === r) continue;
      const qlo = bound(q);
      readAll(shm.fds[result(q)], shm.files[result(q)], bytes.subarray(qlo * 4, bound(q + 1) * 4), qlo * 4);
    }
  }

  /** Close every connection. Safe to call twice. */
  close(): void {
    if (this.shm) {
      for (const fd of this.shm.fds) if (fd >= 0) fs.closeSync(fd);
      fs.rmSync(this.shm.files[2 * this.rank], { force: true });
      fs.rmSync(this.shm.files[2 * this.rank + 1], { force: true });
      this.shm = null;
    }
    for (const l of this.inbound) l?.close();
    for (const l of this.outbound) l?.close();
    this.broken ??= new RuntimeFailure(`all-reduce: rank ${this.rank} was closed`);
  }
}
