/**
 * Checkpoints: `checkpoints/step-N/` holding params, EMA params and Adam moments as raw
 * little-endian float32 (`*.bin`) with an index (`tensors.json`: name → shape, offset), and
 * `state.json` (step, optimizer step, data position, RNG derivation). The folder is written
 * under a temporary name and renamed, so a `step-N` folder is always complete; a crash mid-write
 * leaves the previous checkpoint as the latest.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { writeFileAtomic, writeJsonAtomic } from "../engine/atomic.js";
import { RuntimeFailure } from "../errors.js";
import type { ParamMap } from "../model/params.js";

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
  const floats = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const out: ParamMap = new Map();
  for (const [name, e] of Object.entries(index)) {
    if (e.offset + e.length > floats.length) throw new RuntimeFailure(`${binFile}: truncated checkpoint (parameter ${name})`);
    out.set(name, { shape: e.shape, data: floats.slice(e.offset, e.offset + e.length) });
  }
  return out;
}

export function checkpointDir(runDir: string, step: number): string {
  return path.join(runDir, "checkpoints", `step-${step}`);
}

/** Write a checkpoint atomically (temp folder + rename) and prune old ones (the newest KEEP stay). */
export function writeCheckpoint(runDir: string, ckpt: Omit<Checkpoint, "dir">): string {
  const root = path.join(runDir, "checkpoints");
  const final = checkpointDir(runDir, ckpt.state.step);
  const tmp = path.join(root, `.step-${ckpt.state.step}.tmp-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  for (const [name, map] of [["params", ckpt.params], ["ema", ckpt.ema], ["adam_m", ckpt.adamM], ["adam_v", ckpt.adamV]] as const) {
    const { bin, index } = packTensors(map);
    writeFileAtomic(path.join(tmp, `${name}.bin`), bin);
    writeJsonAtomic(path.join(tmp, `${name}.json`), index);
  }
  writeJsonAtomic(path.join(tmp, "state.json"), ckpt.state);
  fs.rmSync(final, { recursive: true, force: true });
  fs.renameSync(tmp, final);
  const steps = listCheckpoints(runDir);
  for (const s of steps.slice(0, Math.max(0, steps.length - KEEP))) fs.rmSync(checkpointDir(runDir, s), { recursive: true, force: true });
  return final;
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
  if (state.format !== CHECKPOINT_FORMAT) throw new RuntimeFailure(`${dir}: not a ${CHECKPOINT_FORMAT} checkpoint`);
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
