/**
 * Two probes of a pretraining run's final EMA weights (a base), quoted in the README's *Limits*:
 *
 * - **caption words**: on the held-out pairs whose caption asks for two to four subjects, noise
 *   each real image to x_t and ask the network for ε̂ with the caption, with one word of it
 *   swapped (the count, the subject's colour, its shape), and with the null condition. Each swap is
 *   reported as RMS(ε̂(caption) − ε̂(swapped)) / RMS(ε̂(caption) − ε̂(null)): how far that one word
 *   moves the prediction, as a share of how far the whole caption does.
 * - **memorisation**: the ε-loss at several t on 120 pairs of the corpus the base was trained on
 *   against its 120 held-out pairs (the same noise for both). Equal losses mean the base has not
 *   memorised its corpus, so a larger corpus of the same kind is not what it lacks.
 * - **count by number asked**: the count the domain classifier reads in the run's own held-out
 *   samples (`diffx pretrain`'s base-eval), tallied by the number the caption asked for.
 *
 *   node --import tsx bench/base-probes.ts RUN [--cwd DIR]
 *
 * RUN is a `diffx pretrain` run folder; DIR is where its `datasets/` folder is (default: here).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { openDataset } from "../src/data/build.js";
import { loadPairArrays, type PairArrays } from "../src/data/loader.js";
import { makeSchedule, type NoiseSchedule } from "../src/diffusion/schedule.js";
import { qSampleArray } from "../src/diffusion/vlb.js";
import { Rng } from "../src/engine/rng.js";
import { readPng } from "../src/engine/image.js";
import { BASE_EVAL_DIR, heldOutDataset } from "../src/eval/base-scores.js";
import { loadDomainExtractor } from "../src/metrics/domain/domain-extractor.js";
import { conditionInputs } from "../src/sample/conditions.js";
import { openNetwork } from "../src/sample/network.js";
import type { NetworkSession } from "../src/sample/network-session.js";
import { openRun, type RunInfo } from "../src/sample/run-model.js";

const COUNT_WORDS = ["two", "three", "four"];
const PROBE_T = [999, 900, 800, 700, 600, 400, 200];
const LOSS_T = [50, 150, 300, 500, 700, 850, 950];
const MEMORISATION_PAIRS = 120;

export interface WordRow {
  t: number;
  /** RMS(ε̂(caption) − ε̂(null)). */
  caption: number;
  /** RMS(ε̂(caption) − ε̂(swapped)) / caption, per swapped word. */
  count: number;
  colour: number;
  shape: number;
}

export interface LossRow {
  t: number;
  corpus: number;
  heldout: number;
}

/** The pairs' images (`count` of them) noised to x_t with seeded noise: [x_t, ε]. */
function noised(images: Float32Array, count: number, schedule: NoiseSchedule, t: number, seed: number): [Float32Array, Float32Array] {
  const eps = new Rng(seed, "probe", t).normals(images.length);
  return [qSampleArray(images, eps, new Array<number>(count).fill(t), schedule), eps];
}

function rms(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += (a[j] - b[j]) ** 2;
  return Math.sqrt(s / a.length);
}

async function predict(session: NetworkSession, run: RunInfo, xt: Float32Array, t: number, captions: string[], conditional: boolean): Promise<Float32Array> {
  const inputs = conditionInputs(run.config.model, captions.map((prompt) => ({ prompt })), run.tokenizer);
  return session.run(xt, new Float32Array(captions.length).fill(t), inputs, new Float32Array(captions.length).fill(conditional ? 1 : 0));
}

/** The held-out captions with two to four subjects, and each with its count, colour or shape word swapped for another pair's. */
export function swappedCaptions(pairs: PairArrays): { index: number[]; caption: string[]; count: string[]; colour: string[]; shape: string[] } {
  const found = pairs.captions.flatMap((caption, index) => {
    const colour = String(pairs.attributes[index].color);
    const m = new RegExp(`\\b(${COUNT_WORDS.join("|")}) ${colour} (\\S+)`).exec(caption);
    return m ? [{ index, caption, count: m[1], colour, shape: m[2], at: m.index, length: m[0].length }] : [];
  });
  const other = (k: number, key: "colour" | "shape"): string => {
    for (let d = 1; d < found.length; d++) if (found[(k + d) % found.length][key] !== found[k][key]) return found[(k + d) % found.length][key];
    throw new Error(`every caption has the same ${key}`);
  };
  const rewrite = (k: number, count: string, colour: string, shape: string): string => {
    const f = found[k];
    return f.caption.slice(0, f.at) + `${count} ${colour} ${shape}` + f.caption.slice(f.at + f.length);
  };
  return {
    index: found.map((f) => f.index),
    caption: found.map((f) => f.caption),
    count: found.map((f, k) => rewrite(k, COUNT_WORDS[(COUNT_WORDS.indexOf(f.count) + 1) % COUNT_WORDS.length], f.colour, f.shape)),
    colour: found.map((f, k) => rewrite(k, f.count, other(k, "colour"), f.shape)),
    shape: found.map((f, k) => rewrite(k, f.count, f.colour, other(k, "shape"))),
  };
}

/** asked count → classifier's count → images, over the run's base-eval samples. */
export type CountConfusion = Record<string, Record<string, number>>;

async function countConfusion(runDir: string, heldout: PairArrays): Promise<CountConfusion> {
  const dir = path.join(runDir, BASE_EVAL_DIR, "fold-0", "base");
  const records = fs.readFileSync(path.join(dir, "samples.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { file: string; pair_id: string });
  const extractor = await loadDomainExtractor();
  // as the eval scores text control: an image the domain head takes for another generator has no count
  const predicted = await extractor.predictAttributes(records.map((r) => readPng(path.join(dir, r.file))));
  const out: CountConfusion = {};
  records.forEach((r, i) => {
    const asked = String(heldout.attributes[heldout.ids.indexOf(r.pair_id)].count);
    const read = predicted[i].count === undefined ? "not art" : String(predicted[i].count);
    out[asked] ??= {};
    out[asked][read] = (out[asked][read] ?? 0) + 1;
  });
  return out;
}

export async function probeBase(runDir: string, cwd: string, log: (line: string) => void): Promise<{ words: WordRow[]; loss: LossRow[]; counts: CountConfusion }> {
  const run = openRun(runDir);
  const { config } = run;
  if (config.model.conditioning !== "text") throw new Error(`${runDir}: the probes need a text model`);
  const R = config.model.resolution;
  const schedule = makeSchedule({ schedule: config.diffusion.schedule, timesteps: config.diffusion.timesteps });
  const heldout = loadPairArrays(openDataset(heldOutDataset(config), { cwd }), R);
  const corpusSet = openDataset(config.dataset, { cwd });
  const stride = Math.floor(corpusSet.pairs.length / MEMORISATION_PAIRS);
  const corpus = loadPairArrays(corpusSet, R, Array.from({ length: MEMORISATION_PAIRS }, (_, i) => i * stride));
  const { session } = await openNetwork({ engine: "onnx", run, ema: true });
  try {
    const s = swappedCaptions(heldout);
    const D = R * R * 3;
    const images = new Float32Array(s.index.length * D);
    s.index.forEach((i, k) => images.set(heldout.images.subarray(i * D, (i + 1) * D), k * D));
    log(`caption words: ${s.index.length} held-out captions with two to four subjects, e.g. "${s.caption[0]}" → "${s.count[0]}" | "${s.colour[0]}" | "${s.shape[0]}"`);
    const words: WordRow[] = [];
    for (const t of PROBE_T) {
      const [xt] = noised(images, s.index.length, schedule, t, config.seed);
      const own = await predict(session, run, xt, t, s.caption, true);
      const caption = rms(own, await predict(session, run, xt, t, s.caption, false));
      const share = async (swapped: string[]): Promise<number> => rms(own, await predict(session, run, xt, t, swapped, true)) / caption;
      const row = { t, caption, count: await share(s.count), colour: await share(s.colour), shape: await share(s.shape) };
      words.push(row);
      log(`  t ${String(t).padStart(3)}: |ε̂(caption) − ε̂(null)| ${row.caption.toFixed(4)}; swapping the count moves it ${row.count.toFixed(3)} of that, the colour ${row.colour.toFixed(3)}, the shape ${row.shape.toFixed(3)}`);
    }
    log(`memorisation: ε-loss on ${MEMORISATION_PAIRS} corpus pairs against the ${heldout.count} held-out pairs`);
    const loss: LossRow[] = [];
    for (const t of LOSS_T) {
      const mse = async (p: PairArrays): Promise<number> => {
        const [xt, eps] = noised(p.images, p.count, schedule, t, config.seed);
        const pred = await predict(session, run, xt, t, p.captions, true);
        return rms(pred, eps) ** 2;
      };
      const row = { t, corpus: await mse(corpus), heldout: await mse(heldout) };
      loss.push(row);
      log(`  t ${String(t).padStart(3)}: corpus ${row.corpus.toFixed(5)}, held-out ${row.heldout.toFixed(5)} (× ${(row.heldout / row.corpus).toFixed(3)})`);
    }
    const counts = await countConfusion(runDir, heldout);
    log("count by number asked (the run's base-eval samples): asked → how often the classifier reads each count");
    for (const [asked, read] of Object.entries(counts).sort()) {
      const n = Object.values(read).reduce((a, b) => a + b, 0);
      log(`  ${asked}: right ${(((read[asked] ?? 0) / n) * 100).toFixed(0)} % of ${n} (${Object.entries(read).sort().map(([k, v]) => `${k}: ${v}`).join(", ")})`);
    }
    return { words, loss, counts };
  } finally {
    session.dispose();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const args = process.argv.slice(2);
  const at = args.indexOf("--cwd");
  const cwd = at >= 0 ? args.splice(at, 2)[1] : process.cwd();
  if (args.length !== 1) {
    console.error("usage: node --import tsx bench/base-probes.ts RUN [--cwd DIR]");
    process.exit(2);
  }
  await probeBase(args[0], cwd, (line) => console.log(line));
}
