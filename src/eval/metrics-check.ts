/**
 * `diffx metrics check CONFIG`: does the eval's metric see what a person sees, at the eval's
 * resolution and n? The disturbance ladders of Heusel et al. 2017 (src/metrics/disturb.ts)
 * applied to real images, scored exactly as an eval cell is scored:
 *
 *   set a: fold 0's held-out real images (the real side of every cell of fold 0);
 *   set b: min(samples_per_fold, n_train) of fold 0's training images, the same images as the
 *          eval's real-vs-real floor (src/eval/floor.ts), disturbed at each level.
 *
 * Level 0 is therefore the floor. A metric passes a ladder when FID (and KID) rise strictly
 * from each level to the next; one that does not cannot tell those disturbances apart at this
 * n and resolution, and the result says so.
 */
import { loadConfig } from "../config/load.js";
import { openDataset } from "../data/build.js";
import { GENERATORS } from "../data/build.js";
import { resizeSquare } from "../data/resize.js";
import { decodePng, type Image } from "../engine/image.js";
import type { ProgressSink } from "../engine/progress.js";
import { RuntimeFailure } from "../errors.js";
import { disturb, LADDERS, type DisturbanceName } from "../metrics/disturb.js";
import { loadExtractor, type FeatureExtractor } from "../metrics/extractor.js";
import { fid } from "../metrics/fid.js";
import { kid } from "../metrics/kid.js";
import { KID_SETTINGS } from "./cell.js";
import { floorRows } from "./floor.js";
import { planFolds } from "./fold-plan.js";
import { HeldOutLoader } from "./held-out.js";
import { resolveFeaturesSpec, statsSeed } from "./run-eval.js";
import { resolveVariants } from "./variants.js";

/** Generator seed of the other domain's images (far from every dataset seed and the domain reference seeds). */
const OTHER_DOMAIN_SEED = 3_000_000;

export interface CheckRow {
  disturbance: DisturbanceName;
  level: number;
  fid: number;
  kid: number;
}

export interface LadderResult {
  disturbance: DisturbanceName;
  unit: string;
  levels: number[];
  fid: number[];
  kid: number[];
  /** FID rises strictly from each level to the next. */
  monotone_fid: boolean;
  monotone_kid: boolean;
}

export interface MetricsCheckResult {
  features: string;
  description: string;
  resolution: number;
  n_a: number;
  n_b: number;
  rows: CheckRow[];
  ladders: LadderResult[];
  /** Ladders left out and why (e.g. no other domain for contamination). */
  notes: string[];
}

export interface MetricsCheckOptions {
  configFile: string;
  sets?: string[];
  /** Feature extractor spec (default: the config's eval.features). */
  features?: string;
  /** Only these ladders (default all). */
  only?: DisturbanceName[];
  cwd?: string;
  progress: ProgressSink;
  /** An extractor to use instead of loading one (tests). */
  extractor?: FeatureExtractor;
}

export function strictlyIncreasing(xs: readonly number[]): boolean {
  return xs.every((x, i) => i === 0 || x > xs[i - 1]!);
}

export async function runMetricsCheck(o: MetricsCheckOptions): Promise<MetricsCheckResult> {
  const cwd = o.cwd ?? process.cwd();
  const { config } = loadConfig(o.configFile, o.sets ?? []);
  const ds = openDataset(config.dataset, { cwd, progress: o.progress });
  const plan = planFolds(ds, config.eval.folds, config.seed, config.dataset.stratify, "eval.folds");
  const { variants } = resolveVariants(config);
  const R = variants[0]!.config.model.resolution;
  const spec = o.features ?? config.eval.features;
  const extractor = o.extractor ?? (await loadExtractor(resolveFeaturesSpec(spec, cwd)));
  try {
    const loader = new HeldOutLoader(ds, cwd);
    const a = await extractor.extract(await loader.images(plan.heldOut[0]!, R));
    const bRows = floorRows(plan.train[0]!, config.eval.samples_per_fold, config.seed, 0);
    const bImages = await loader.images(bRows, R);
    if (a.length < 2 || bImages.length < 2) throw new RuntimeFailure(`fold 0 has ${a.length} held-out and ${bImages.length} training images; FID/KID need at least 2 of each`);
    const seed = statsSeed(config.seed, 0);
    const notes: string[] = [];
    const others = otherDomain(ds.kind, bImages.length, ds.imageSize, R);
    if (!others) notes.push(`contamination: left out, dataset kind '${ds.kind}' has no built-in other domain`);
    const ladders: LadderResult[] = [];
    const rows: CheckRow[] = [];
    const wanted = LADDERS.filter((l) => (!o.only || o.only.includes(l.name)) && (l.name !== "contamination" || others));
    o.progress.start("disturbance ladders", wanted.reduce((s, l) => s + l.levels.length, 0));
    let done = 0;
    try {
      for (const l of wanted) {
        const fids: number[] = [], kids: number[] = [];
        for (const level of l.levels) {
          const b = await extractor.extract(disturb(bImages, l.name, level, config.seed, others ?? []));
          const f = fid(a, b);
          const k = kid(a, b, { subsets: KID_SETTINGS.subsets, subsetSize: KID_SETTINGS.subsetSize, seed }).kid;
          fids.push(f);
          kids.push(k);
          rows.push({ disturbance: l.name, level, fid: f, kid: k });
          o.progress.update(++done);
        }
        ladders.push({ disturbance: l.name, unit: l.unit, levels: [...l.levels], fid: fids, kid: kids, monotone_fid: strictlyIncreasing(fids), monotone_kid: strictlyIncreasing(kids) });
      }
    } finally {
      o.progress.stop();
    }
    return { features: spec, description: extractor.describe(), resolution: R, n_a: a.length, n_b: bImages.length, rows, ladders, notes };
  } finally {
    if (!o.extractor) await extractor.release?.();
  }
}

/** n images of the other built-in generator, drawn at the dataset's size and area-downsampled to R. */
function otherDomain(kind: string, n: number, size: number, R: number): Image[] | null {
  const other = kind === "art" ? "sketch2render" : kind === "sketch2render" ? "art" : null;
  if (!other) return null;
  return Array.from({ length: n }, (_, i) => {
    const pair = GENERATORS[other].pair(OTHER_DOMAIN_SEED, i, size);
    const file = pair.files.find((f) => f.path === pair.record.image);
    if (!file) throw new RuntimeFailure(`${other} generator: pair ${i} has no image`);
    return resizeSquare(decodePng(file.bytes, 3, `${other} image ${i}`), R);
  });
}

/** The check as text: one block per ladder, levels with FID and KID, and the verdict. */
export function formatMetricsCheck(r: MetricsCheckResult): string {
  const out = [
    `Disturbance ladders (Heusel et al. 2017) at ${r.resolution} px: ${r.n_a} held-out real images of fold 0 vs ${r.n_b} of its training images, disturbed; level 0 is the real-vs-real floor.`,
    `Features: ${r.features} (${r.description})`,
    "",
  ];
  for (const l of r.ladders) {
    out.push(`${l.disturbance} (${l.unit})`);
    l.levels.forEach((lv, i) => out.push(`  level ${String(lv).padEnd(5)} FID ${l.fid[i]!.toPrecision(5).padStart(10)}   KID ${l.kid[i]!.toPrecision(4).padStart(10)}`));
    const verdict = (ok: boolean, m: string): string => (ok ? `${m} rises monotonically` : `${m} does NOT rise monotonically: it cannot order these disturbance levels at this n and resolution`);
    out.push(`  ${verdict(l.monotone_fid, "FID")}; ${verdict(l.monotone_kid, "KID")}`, "");
  }
  for (const n of r.notes) out.push(`note: ${n}`);
  const failed = r.ladders.filter((l) => !l.monotone_fid || !l.monotone_kid);
  out.push(
    failed.length
      ? `FAILED ladders: ${failed.map((l) => `${l.disturbance} (${[!l.monotone_fid ? "FID" : "", !l.monotone_kid ? "KID" : ""].filter(Boolean).join(", ")})`).join("; ")}. Do not read a difference of this metric at this n as a difference a person would see.`
      : "Every ladder rises monotonically for FID and KID.",
  );
  return out.join("\n");
}
