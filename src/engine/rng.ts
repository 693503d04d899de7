/**
 * Seeded randomness. diffx never uses Math.random: every random number comes from an Rng
 * whose seed is derived from (run seed, purpose, indices…), so that a sample's noise depends
 * only on what it is, never on worker count, batch size or time.
 *
 * Generator: xoshiro128** (Blackman & Vigna, "Scrambled linear pseudorandom number generators",
 * 2021), 128-bit state, 32-bit outputs. Seeds are expanded with splitmix32-style mixing of a
 * FNV-1a hash of the seed parts.
 */

export type SeedPart = number | string;

/** Serializable generator state (four uint32 words plus a cached Box–Muller spare). */
export interface RngState {
  s: [number, number, number, number];
  spare: number | null;
}

function fnv1a(str: string, h: number): number {
  for (let i = 0; i < str.length; i++) {
    h ^= str.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

function mix32(x: number): number {
  // splitmix32 finaliser (murmur3 fmix32 variant)
  x = (x + 0x9e3779b9) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/** Hash any list of seed parts to four well-mixed, non-zero uint32 words. */
export function seedWords(parts: readonly SeedPart[]): [number, number, number, number] {
  const key = parts.map((p) => (typeof p === "number" ? `n${p}` : `s${p}`)).join("\u0000");
  let h = fnv1a(key, 0x811c9dc5);
  const out: [number, number, number, number] = [0, 0, 0, 0];
  for (let i = 0; i < 4; i++) {
    h = mix32(h + i * 0x6d2b79f5);
    out[i] = h;
  }
  if ((out[0] | out[1] | out[2] | out[3]) === 0) out[0] = 1;
  return out;
}

export class Rng {
  private s: Uint32Array;
  private spare: number | null = null;

  /** `new Rng(seed, "noise", step, index)`: an independent stream per tuple of parts. */
  constructor(...parts: SeedPart[]) {
    this.s = Uint32Array.from(seedWords(parts));
  }

  static fromState(state: RngState): Rng {
    const r = new Rng(0);
    r.s = Uint32Array.from(state.s);
    r.spare = state.spare;
    return r;
  }

  state(): RngState {
    return { s: [this.s[0], this.s[1], this.s[2], this.s[3]], spare: this.spare };
  }

  /** Next uint32 (xoshiro128**). */
  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 bits. */
  uniform(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    if (!(n > 0)) throw new Error(`Rng.int: n must be positive, got ${n}`);
    return Math.floor(this.uniform() * n);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.uniform() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** Standard normal (Box–Muller, both values used). */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Fill a Float32Array with standard normals. */
  normals(n: number, out: Float32Array = new Float32Array(n)): Float32Array {
    for (let i = 0; i < n; i++) out[i] = this.normal();
    return out;
  }

  /** Fisher–Yates shuffle in place; returns the array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i];
      items[i] = items[j];
      items[j] = tmp;
    }
    return items;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
