/**
 * One direction of a binary connection between two ranks over a local (Unix domain) socket:
 * exact-length receives into caller-owned memory, sends that finish when the kernel has taken
 * the bytes, and timeouts that name the peer. No framing and no JSON: both sides know what
 * comes next.
 *
 * Receiving uses net's `onread` with one buffer reused for every read. On the machines this was
 * measured on, first-touch page faults cost ≈ 4 ms per MB (warm memcpy ≈ 0.1 ms per MB), so a
 * fresh 64 KB Buffer per socket read — net's default — made a transfer several times slower.
 * When bytes arrive before anyone asked for them, they wait in one spare buffer and the socket
 * is paused, so the kernel holds the rest (back-pressure, no allocation).
 */
import * as net from "node:net";
import { RuntimeFailure } from "../../errors.js";

/** A failure caused by another rank (it closed its connection, or stopped answering). */
export class PeerFailure extends RuntimeFailure {
  constructor(
    message: string,
    /** The rank that stopped answering or went away (−1 when not known). */
    readonly peer: number,
  ) {
    super(message);
  }
}

export function formatSeconds(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)} s` : `${ms} ms`;
}

const READ_BYTES = 256 * 1024;

/** The message for a socket error: a reset or broken pipe means the peer went away. */
function socketFailure(err: NodeJS.ErrnoException, peer: number, self: number): PeerFailure {
  if (err.code === "EPIPE" || err.code === "ECONNRESET") {
    return new PeerFailure(`all-reduce: rank ${peer} closed its connection with rank ${self} (it exited or crashed)`, peer);
  }
  return new PeerFailure(`all-reduce: rank ${self} lost its connection with rank ${peer} (${err.message}); that rank probably crashed`, peer);
}

interface Wanted {
  dst: Uint8Array;
  filled: number;
  progress: ((filled: number) => void) | undefined;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** The receiving end: a socket this rank dialed, from which it only reads. */
export class Inbound {
  private readonly readBuf = Buffer.allocUnsafe(READ_BYTES);
  private readonly spare = Buffer.allocUnsafe(READ_BYTES);
  private spareStart = 0;
  private spareEnd = 0;
  private paused = false;
  private wanted: Wanted | null = null;
  private failure: Error | null = null;
  private closing = false;
  private timer: NodeJS.Timeout | null = null;
  readonly socket: net.Socket;

  /** Dial `file`; resolves with the connected link, or rejects with the socket error (ENOENT, ECONNREFUSED…). */
  static open(file: string, peer: number, self: number, timeoutMs: number): Promise<Inbound> {
    return new Promise((resolve, reject) => {
      const link: Inbound = new Inbound(file, peer, self, timeoutMs, () => resolve(link), reject);
    });
  }

  private constructor(
    file: string,
    readonly peer: number,
    private readonly self: number,
    private readonly timeoutMs: number,
    onConnect: () => void,
    onConnectError: (err: Error) => void,
  ) {
    this.socket = net.createConnection({
      path: file,
      onread: { buffer: this.readBuf, callback: (n: number) => this.onRead(n) },
    });
    const early = (err: Error): void => {
      this.closing = true;
      this.socket.destroy();
      onConnectError(err);
    };
    this.socket.once("error", early);
    this.socket.once("connect", () => {
      this.socket.off("error", early);
      this.socket.on("error", (err: Error) => this.fail(socketFailure(err, this.peer, this.self)));
      this.socket.on("close", () => this.fail(new PeerFailure(`all-reduce: rank ${this.peer} closed its connection with rank ${this.self} (it exited or crashed)`, this.peer)));
      onConnect();
    });
  }

  private fail(err: Error): void {
    if (this.closing || this.failure) return;
    this.failure = err;
    this.stopTimer();
    const w = this.wanted;
    this.wanted = null;
    if (w) w.reject(err);
  }

  private stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** onread callback: bytes [0, n) of readBuf are new. Returning false pauses the socket. */
  private onRead(n: number): boolean {
    let off = 0;
    const w = this.wanted;
    if (w) {
      this.timer?.refresh();
      off = Math.min(n, w.dst.length - w.filled);
      w.dst.set(off === this.readBuf.length ? this.readBuf : this.readBuf.subarray(0, off), w.filled);
      w.filled += off;
      w.progress?.(w.filled);
      if (w.filled === w.dst.length) {
        this.wanted = null;
        this.stopTimer();
        w.resolve();
      }
    }
    if (off === n) return true;
    // nobody wants these bytes yet: keep them, and let the kernel hold the rest
    if (this.spareEnd > this.spareStart) {
      this.fail(new RuntimeFailure(`all-reduce: rank ${this.self} received data from rank ${this.peer} while paused (internal error)`));
      return false;
    }
    this.readBuf.copy(this.spare, 0, off, n);
    this.spareStart = 0;
    this.spareEnd = n - off;
    this.paused = true;
    return false;
  }

  /**
   * Fill `dst` with the next `dst.length` bytes from the peer. `progress(filled)` is called as
   * bytes land (so work on the first part can start before the rest arrives). Rejects with a
   * PeerFailure if the peer stays silent for the timeout.
   */
  recv(dst: Uint8Array, progress?: (filled: number) => void): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.wanted) return Promise.reject(new RuntimeFailure(`all-reduce: rank ${this.self} started two receives from rank ${this.peer} at once (internal error)`));
    let filled = 0;
    if (this.spareEnd > this.spareStart) {
      const take = Math.min(this.spareEnd - this.spareStart, dst.length);
      dst.set(this.spare.subarray(this.spareStart, this.spareStart + take), 0);
      this.spareStart += take;
      filled = take;
      if (take > 0) progress?.(filled);
    }
    if (this.paused && this.spareStart === this.spareEnd) {
      this.paused = false;
      this.socket.resume();
    }
    if (filled === dst.length) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.wanted = { dst, filled, progress, resolve, reject };
      this.timer = setTimeout(() => {
        this.fail(new PeerFailure(`all-reduce: rank ${this.self} heard nothing from rank ${this.peer} for ${formatSeconds(this.timeoutMs)}: that rank stopped answering`, this.peer));
      }, this.timeoutMs);
    });
  }

  close(): void {
    this.closing = true;
    this.stopTimer();
    const w = this.wanted;
    this.wanted = null;
    if (w) w.reject(new RuntimeFailure(`all-reduce: rank ${this.self} closed while waiting for rank ${this.peer}`));
    this.socket.destroy();
  }
}

/** The sending end: a socket another rank dialed into this rank's server; this rank only writes to it. */
export class Outbound {
  private failure: Error | null = null;
  private closing = false;

  constructor(
    private readonly socket: net.Socket,
    readonly peer: number,
    private readonly self: number,
    private readonly timeoutMs: number,
  ) {
    socket.on("error", (err: Error) => this.fail(socketFailure(err, this.peer, this.self)));
    socket.on("close", () => this.fail(new PeerFailure(`all-reduce: rank ${this.peer} closed its connection with rank ${this.self} (it exited or crashed)`, this.peer)));
  }

  private fail(err: Error): void {
    if (this.closing || this.failure) return;
    this.failure = err;
  }

  /**
   * Send `src`; resolves when the kernel has taken every byte. `src` must not change until then
   * (the bytes are not copied).
   */
  send(src: Uint8Array): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (src.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        const err = new PeerFailure(`all-reduce: rank ${this.peer} took no data from rank ${this.self} for ${formatSeconds(this.timeoutMs)}: that rank stopped answering`, this.peer);
        this.fail(err);
        reject(err);
      }, this.timeoutMs);
      this.socket.write(src, (err) => {
        clearTimeout(timer);
        if (settled) return;
        settled = true;
        if (err) {
          const failure = this.failure ?? socketFailure(err, this.peer, this.self);
          this.fail(failure);
          reject(failure);
        } else resolve();
      });
    });
  }

  close(): void {
    this.closing = true;
    this.socket.destroy();
  }
}
