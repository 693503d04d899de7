/**
 * Gradient averaging across the worker processes of one machine, over Unix domain sockets in a
 * shared rendezvous folder. Tensors travel as raw float32 bytes (no JSON, no copies on send).
 *
 * Two algorithms, both deterministic:
 * - **ring** (reduce-scatter, then all-gather): the buffer is cut into `world` chunks; chunk c
 *   is summed around the ring starting at rank c, ((x_c + x_{c+1}) + x_{c+2}) + … + x_{c−1}
 *   (ranks mod world), divided by `world` by the one rank that finishes it, and that rank's
 *   float32 result is copied verbatim to every other rank. Each rank sends and receives
 *   2·(world−1)/world of the buffer.
 * - **star** (reduce at rank 0, then broadcast): rank 0 sums x_0 + x_1 + … + x_{world−1} in rank
 *   order, divides by `world`, and sends its result to every rank. Rank 0 moves
 *   2·(world−1) buffers; the others one each way.
 *
 * Results are therefore the same bits on every rank (every rank ends with a byte copy of the
 * one computed value), and the same bits on every run (the summation order is fixed by rank and
 * chunk, never by arrival time). This is what keeps the parameters identical across workers.
 * The order does depend on `world`, so different worker counts agree only to float32 rounding.
 *
 * Which is faster was measured with bench/allreduce.ts (see DEFAULT_ALGORITHM).
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { RuntimeFailure } from "../../errors.js";
import { formatSeconds, Inbound, Outbound, PeerFailure } from "./link.js";

export { PeerFailure } from "./link.js";

export type AllReduceAlgorithm = "ring" | "star";

/**
 * Measured on the 2-core development machine (bench/allreduce.ts, 1.37 M floats): the ring was
 * faster for 2–8 workers; see the numbers in the module's report and in bench output.
 */
export const DEFAULT_ALGORITHM: AllReduceAlgorithm = "ring";

export interface AllReduceOptions {
  algorithm?: AllReduceAlgorithm;
}

const HELLO_MAGIC = 0x52584644; // "DFXR"
const HELLO_BYTES = 16;
const ALGORITHM_CODES: Record<AllReduceAlgorithm, number> = { ring: 1, star: 2 };
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
    return new AllReduce(rank, world, algorithm, inbound, outbound);
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
      else await this.star(buf);
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
      const addArrived = (filledBytes: number): void => {
        const upTo = filledBytes >> 2;
        for (let i = added; i < upTo; i++) buf[lo + i] += incoming[i];
        added = upTo;
      };
      await Promise.all([next.send(asBytes(buf, bound(sendC), bound(sendC + 1))), prev.recv(asBytes(incoming), addArrived)]);
      addArrived(count * 4);
    }
    // rank r now owns the complete sum of chunk r + 1
    const own = mod(r + 1);
    for (let i = bound(own), end = bound(own + 1); i < end; i++) buf[i] = buf[i] / n;
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
    for (const data of incoming) for (let i = 0; i < len; i++) buf[i] += data[i];
    for (let i = 0; i < len; i++) buf[i] = buf[i] / n;
    const sends: Promise<void>[] = [];
    for (let q = 1; q < n; q++) sends.push(this.to(q).send(asBytes(buf)));
    await Promise.all(sends);
  }

  /** Close every connection. Safe to call twice. */
  close(): void {
    for (const l of this.inbound) l?.close();
    for (const l of this.outbound) l?.close();
    this.broken ??= new RuntimeFailure(`all-reduce: rank ${this.rank} was closed`);
  }
}
