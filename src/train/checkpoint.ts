/**
 * Checkpoints: `checkpoints/step-N/` holding params, EMA params and Adam moments as raw
 * little-endian float32 (`*.bin`) with an index (`tensors.json`: name → shape, offset), and
 * `state.json` (step, optimizer step, data position, RNG derivation). The folder is written
 * under a temporary name and renamed, so a `step-N` folder is always complete; a crash mid-write
 * leaves the previous checkpoint as the latest.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { WriteFailure, writeFileAtomic, writeJsonAtomic } from "../engine/atomic.js";
import { RuntimeFailure } from "../errors.js";
import type { ParamMap } from "../model/params.js";
import type { AdapterState } from "./adapter.js";
import { makeDirs } from "../engine/make-dirs.js";

export const CHECKPOINT_FORMAT = "diffx-checkpoint/1";
const KEEP = 3;

export interface TrainState {
  format: typeof CHECKPOINT_FORMAT;
  step: number;
  optimizer_step: number;
  /** The data order: epoch e is the permutation from Rng(seed, "data", e); `offset` is the next index in it. */
  data: { epoch: number; offset: number };
  /** Every random draw derives from (seed, purpose, step, sample): this is the whole RNG state. */
  rng: { seed: number; derivation: string };
  /** The last logged loss (to continue the smoothed display). */
  loss: number | null;
  /** LoRA runs: the adapter and the sha256 of the base it was trained on (the tensors hold only the adapter). */
  adapter?: AdapterState;
}

export interface Checkpoint {
  dir: string;
  state: TrainState;
  params: ParamMap;
  ema: ParamMap;
  adamM: ParamMap;
  adamV: ParamMap;
}

interface IndexEntry {
  shape: number[];
  offset: number;
  length: number;
}

function packTensors(map: ParamMap): { bin: Uint8Array; index: Record<string, IndexEntry> } {
  const index: Record<string, IndexEntry> = {};
  let total = 0;
  for (const [name, p] of map) {
    index[name] = { shape: p.shape, offset: total, length: p.data.length };
    total += p.data.length;
  }
  const all = new Float32Array(total);
  for (const [name, p] of map) all.set(p.data, index[name].offset);
  const bin = new Uint8Array(all.buffer);
  return { bin, index };
}

function unpackTensors(binFile: string, indexFile: string): ParamMap {
  let index: Record<string, IndexEntry>;
  let buf: Buffer;
  try {
    index = JSON.parse(fs.readFileSync(indexFile, "utf8")) as Record<string, IndexEntry>;
    buf = fs.readFileSync(binFile);
  } catch (err) {
    throw new RuntimeFailure(`${path.dirname(binFile)}: unreadable checkpoint (${(err as Error).message})`);
  }
  if (typeof index !== "object" || index === null) throw new RuntimeFailure(`${indexFile}: not a checkpoint index`);
  const entries = Object.entries(index);
  for (const [name, e] of entries) {
    const ok = e && Array.isArray(e.shape) && e.shape.every((d) => Number.isInteger(d) && d >= 0) && Number.isInteger(e.offset) && e.offset >= 0 && Number.isInteger(e.length) && e.shape.reduce((a, b) => a * b, 1) === e.length;
    if (!ok) throw new RuntimeFailure(`${indexFile}: bad entry for parameter ${name}`);
  }
  const expected = 4 * entries.reduce((end, [, e]) => Math.max(end, e.offset + e.length), 0);
  if (buf.byteLength !== expected) {
    throw new RuntimeFailure(`${binFile}: ${buf.byteLength < expected ? "truncated" : "damaged"} checkpoint (${buf.byteLength} bytes, the index needs ${expected})`);
  }
  const floats = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const out: ParamMap = new Map();
  for (const [name, e] of entries) out.set(name, { shape: e.shape, data: floats.slice(e.offset, e.offset + e.length) });
  return out;
}

export function checkpointDir(runDir: string, step: number): string {
  return path.join(runDir, "checkpoints", `step-${step}`);
}

/**
 * Write a checkpoint atomically (temp folder + rename) and prune old ones (the newest KEEP
 * stay). A folder is only ever renamed away before it is deleted, so a crash at any moment
 * leaves every `step-N` folder complete; temp and trash folders left by a killed process are
 * removed on the next write (the run lock guarantees there is no other writer).
 */
export function writeCheckpoint(runDir: string, ckpt: Omit<Checkpoint, "dir">): string {
  const root = path.join(runDir, "checkpoints");
  const final = checkpointDir(runDir, ckpt.state.step);
  const tmp = path.join(root, `.step-${ckpt.state.step}.tmp-${process.pid}`);
  try {
    makeDirs(root);
    removeLeftovers(root);
    makeDirs(tmp);
    for (const [name, map] of [["params", ckpt.params], ["ema", ckpt.ema], ["adam_m", ckpt.adamM], ["adam_v", ckpt.adamV]] as const) {
      const { bin, index } = packTensors(map);
      writeFileAtomic(path.join(tmp, `${name}.bin`), bin);
      writeJsonAtomic(path.join(tmp, `${name}.json`), index);
    }
    // state.json last: a folder with state.json holds every tensor file
    writeJsonAtomic(path.join(tmp, "state.json"), ckpt.state);
    if (fs.existsSync(final)) discard(root, final);
    fs.renameSync(tmp, final);
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    const code = err instanceof WriteFailure ? err.code : (err as NodeJS.ErrnoException).code;
    const previous = listCheckpoints(runDir);
    const kept = previous.length ? `the previous checkpoint (step ${previous[previous.length - 1]}) is intact` : "no earlier checkpoint exists";
    if (code === "ENOSPC" || code === "EDQUOT") throw new RuntimeFailure(`disk full while writing checkpoint ${final} (${code}); ${kept}. Free some space, then continue with --resume`);
    const why = err instanceof Error ? err.message : String(err);
    throw new RuntimeFailure(`cannot write checkpoint ${final} (${why}); ${kept}`);
  }
  const steps = listCheckpoints(runDir);
  for (const s of steps.slice(0, Math.max(0, steps.length - KEEP))) discard(root, checkpointDir(runDir, s));
  return final;
}

const LEFTOVER = /^\.(step-\d+\.tmp-\d+|trash-.+)$/;

/** Rename a checkpoint folder out of sight (one atomic step), then delete it. */
function discard(root: string, dir: string): void {
  const trash = path.join(root, `.trash-${path.basename(dir)}-${process.pid}`);
  fs.rmSync(trash, { recursive: true, force: true });
  fs.renameSync(dir, trash);
  fs.rmSync(trash, { recursive: true, force: true });
}

/** Temp and trash folders of an earlier, killed writer. */
function removeLeftovers(root: string): void {
  for (const name of fs.readdirSync(root)) if (LEFTOVER.test(name)) fs.rmSync(path.join(root, name), { recursive: true, force: true });
}

/** Complete checkpoint steps, ascending. */
export function listCheckpoints(runDir: string): number[] {
  const root = path.join(runDir, "checkpoints");
  if (!fs.existsSync(root)) return [];
  return fs
    .readdirSync(root)
    .map((d) => /^step-(\d+)$/.exec(d))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .filter((s) => fs.existsSync(path.join(checkpointDir(runDir, s), "state.json")))
    .sort((a, b) => a - b);
}

export function readCheckpoint(dir: string): Checkpoint {
  let state: TrainState;
  try {
    state = JSON.parse(fs.readFileSync(path.join(dir, "state.json"), "utf8")) as TrainState;
  } catch (err) {
    throw new RuntimeFailure(`${dir}: unreadable checkpoint state (${(err as Error).message})`);
  }
  if (typeof state !== "object" || state === null || state.format !== CHECKPOINT_FORMAT) throw new RuntimeFailure(`${dir}: not a ${CHECKPOINT_FORMAT} checkpoint`);
  const load = (name: string) => unpackTensors(path.join(dir, `${name}.bin`), path.join(dir, `${name}.json`));
  return { dir, state, params: load("params"), ema: load("ema"), adamM: load("adam_m"), adamV: load("adam_v") };
}

/** The newest complete checkpoint of a run, or null. */
export function latestCheckpoint(runDir: string): Checkpoint | null {
  const steps = listCheckpoints(runDir);
  return steps.length ? readCheckpoint(checkpointDir(runDir, steps[steps.length - 1])) : null;
}

/** Only the weights a sampler needs (EMA or raw) from the newest checkpoint. */
export function latestWeights(runDir: string, ema: boolean): { step: number; params: ParamMap } {
  const steps = listCheckpoints(runDir);
  if (steps.length === 0) throw new RuntimeFailure(`${runDir}: the run has no checkpoint yet (train it first)`);
  const dir = checkpointDir(runDir, steps[steps.length - 1]);
  const name = ema ? "ema" : "params";
  return { step: steps[steps.length - 1], params: unpackTensors(path.join(dir, `${name}.bin`), path.join(dir, `${name}.json`)) };
}
