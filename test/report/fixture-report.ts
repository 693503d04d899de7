/**
 * A hand-made eval report for renderer tests: 3 folds × 2 variants with made-up scores (the
 * statistics are computed from them with src/stats), and small PNGs on disk for the matrix.
 */
import * as path from "node:path";
import { createImage, writePng, type Image } from "../../src/engine/image.js";
import { analyse, summarise } from "../../src/stats/index.js";
import { EVAL_REPORT_FORMAT, type CellReport, type EvalReport } from "../../src/report/report-types.js";

const FID: Record<string, number[]> = { "dpmpp-20": [41.5, 38.25, 44.0], "ddim-4": [55.0, 49.5, 58.75] };
/** Real-vs-real floor FID per fold. */
export const FLOOR_FID = [30.5, 28.75, 33.25];
const KID: Record<string, number[]> = { "dpmpp-20": [0.021, 0.018, 0.025], "ddim-4": [0.034, 0.029, 0.041] };
/** Measured seconds per image per fold, NFE per image (guided: 2 × steps), and their summary worked by hand. */
const SECONDS: Record<string, number[]> = { "dpmpp-20": [0.5, 0.55, 0.6], "ddim-4": [0.1, 0.12, 0.11] };
const NFE: Record<string, number> = { "dpmpp-20": 40, "ddim-4": 8 };
const SECONDS_MEAN_SD: Record<string, [number, number]> = { "dpmpp-20": [0.55, 0.05], "ddim-4": [0.11, 0.01] };
const ENGINE = { name: "onnx", backend: "cpu", threads: 2, host: "Test CPU (2 cores)" };
/** A LoRA-like training: the vocabulary (and so the total) differs a little between folds. */
const TOTAL = [1_377_251, 1_377_315, 1_377_283];
const TRAINABLE = 4096;

/** An 8×8 image: a coloured square on a grey background (colour from `seed`). */
function swatch(seed: number): Image {
  const img = createImage(8, 8, 3);
  for (let y = 0; y < 8; y++)
    for (let x = 0; x < 8; x++) {
      const inside = x >= 2 && x < 6 && y >= 2 && y < 6;
      const rgb = inside ? [(seed * 97) % 256, (seed * 57 + 80) % 256, (seed * 31 + 160) % 256] : [200, 200, 200];
      img.data.set(rgb, (y * 8 + x) * 3);
    }
  return img;
}

export function fixtureReport(evalDir: string): EvalReport {
  const variants = Object.keys(FID);
  const cells: CellReport[] = [];
  for (let fold = 0; fold < 3; fold++) {
    for (const v of variants) {
      cells.push({
        fold,
        variant: v,
        fid: FID[v][fold],
        fid_ci: [FID[v][fold] - 5, FID[v][fold] + 6],
        kid: KID[v][fold],
        kid_std: 0,
        kid_ci: [KID[v][fold] - 0.01, KID[v][fold] + 0.012],
        ci_detail: null,
        n_real: 12,
        n_generated: 12,
        dims: 128,
        seed: 1000 + fold,
        train_run: `fold-${fold}/train`,
        checkpoint_step: 600,
        engine: "tfjs/wasm",
        samples: `fold-${fold}/${v}/samples`,
        features: { real: `fold-${fold}/real-8px/features.npy`, generated: `fold-${fold}/${v}/features.npy` },
        text_control: {
          success_rate: 0.5 + fold * 0.1,
          attribute_accuracy: { style: 0.75, shape: 0.6 },
          real_success_rate: 0.9,
          real_attribute_accuracy: { style: 1, shape: 0.9 },
          chance_success_rate: 0.05,
          chance_attribute_accuracy: { style: 0.25, shape: 0.2 },
          success_vs_real: (0.5 + fold * 0.1) / 0.9,
          // by the value asked: dpmpp-20 draws every circle, ddim-4 half; stars are drawn in `fold` of 6
          by_value: { shape: { circle: { n: 6, hits: v === "dpmpp-20" ? 6 : 3 }, star: { n: 6, hits: fold } }, style: { wave: { n: 12, hits: 9 } } },
          real_by_value: { shape: { circle: { n: 6, hits: 6 }, star: { n: 6, hits: 5 } }, style: { wave: { n: 12, hits: 12 } } },
          attributes: ["shape", "style"],
          n: 12,
          n_real: 12,
        },
        sketch_fidelity: null,
        warnings: [],
        cost: {
          nfe: NFE[v],
          images: 12,
          seconds: SECONDS[v][fold] * 12,
          seconds_per_image: SECONDS[v][fold],
          images_per_s: 1 / SECONDS[v][fold],
          engine: ENGINE,
          concurrent_trainings: 0,
        },
      });
    }
  }
  const rows = (m: "fid" | "kid") => cells.map((c) => ({ fold: c.fold, variant: c.variant, value: c[m] }));
  const sum = (vals: number[]) => summarise(vals);
  const summaries = {
    fid: Object.fromEntries(variants.map((v) => [v, sum(FID[v])])),
    kid: Object.fromEntries(variants.map((v) => [v, sum(KID[v])])),
    text_control: Object.fromEntries(variants.map((v) => [v, sum([0.5, 0.6, 0.7])])),
  };
  const comparisonRows = [0, 1, 2].map((fold) => {
    const id = `000${fold}`;
    writePng(path.join(evalDir, `fold-${fold}/real-8px/${id}.png`), swatch(fold));
    const generated: Record<string, string> = {};
    variants.forEach((v, k) => {
      const rel = `fold-${fold}/${v}/samples/0000.png`;
      writePng(path.join(evalDir, rel), swatch(fold + 10 * (k + 1)));
      generated[v] = rel;
    });
    return { fold, pair_id: id, condition: fold === 0 ? "a <b>bold</b> & \"quoted\" caption" : `caption ${fold}`, real: `fold-${fold}/real-8px/${id}.png`, sketch: null, generated };
  });
  const fid = JSON.parse(JSON.stringify(analyse(rows("fid"))));
  const kid = JSON.parse(JSON.stringify(analyse(rows("kid"))));
  const ms = (s: { mean: number; sd: number; ci95: [number, number] }) => ({ mean: s.mean, sd: s.sd, ci95: s.ci95 });
  return {
    format: EVAL_REPORT_FORMAT,
    diffx_version: "0.1.0",
    git_commit: "0123456789abcdef0123456789abcdef01234567",
    created: "2026-01-01T00:00:00.000Z",
    experiment: { name: "fixture", config: "../config.yaml", config_hash: "a".repeat(64), seed: 42 },
    dataset: { name: "art-60", kind: "art", hash: "b".repeat(64), n_pairs: 36, n_groups: 36, image_size: 32, stratify: "style" },
    cv: {
      k: 3,
      split_seed: 42,
      folds: [0, 1, 2].map((fold) => ({ fold, n_train: 24, n_held_out: 12, held_out: [`000${fold}`], real_floor: { fid: FLOOR_FID[fold], kid: 0.004 + fold * 0.001, n_a: 12, n_b: 12, b_ids: [`001${fold}`] } })),
      real_floor_rule: "per fold: held-out vs training images",
    },
    extractor: { spec: "domain", name: "domain", dims: 128, description: "test features" },
    images: { dataset_image_size: 32, real: "held-out pairs at 8 px", generated: "8 px" },
    sampling: { samples_per_fold: 12, seed_rule: "per fold", conditions: "cycling", cost_rule: "measured" },
    kid: { subsets: 100, subset_size: 1000, seed_rule: "per fold" },
    bootstrap: { resamples: 200, level: 0.95, seed_rule: "per fold", unit: "held-out pair", method: "BCa" },
    variants: variants.map((name) => ({ name, sampler: name.startsWith("ddim") ? "ddim" : "dpmpp", steps: name.endsWith("4") ? 4 : 20, guidance: 2, eta: 0, clip_x0: 1, ema: true, engine: "tfjs", training: "train", overrides: {}, model_resolution: 8,
      cost: { nfe: NFE[name], seconds_per_image: SECONDS_MEAN_SD[name][0], seconds_per_image_sd: SECONDS_MEAN_SD[name][1], images_per_s: 1 / SECONDS_MEAN_SD[name][0], engine: "onnx/cpu, 2 threads, Test CPU (2 cores)", concurrent_trainings: 0 },
      parameters: { trainable: [TRAINABLE, TRAINABLE] as [number, number], total: [Math.min(...TOTAL), Math.max(...TOTAL)] as [number, number], ratio: [TRAINABLE / Math.max(...TOTAL), TRAINABLE / Math.min(...TOTAL)] as [number, number], adapter: "LoRA rank 4, α 4 on 12 layers (attn.q, attn.v)" },
    })),
    cells,
    stats: { fid, kid, summaries },
    training: [0, 1, 2].map((fold) => ({
      fold,
      run: `fold-${fold}/train`,
      variants,
      steps: 600,
      final_loss: 0.1 + fold * 0.01,
      loss: Array.from({ length: 60 }, (_, i): [number, number] => [i * 10, 1 / (1 + i * 0.1) + fold * 0.02]),
      kl: Array.from({ length: 6 }, (_, i): [number, number] => [i * 100, 2 / (1 + i) + fold * 0.05]),
      perceptual: Array.from({ length: 6 }, (_, i): [number, number] => [i * 100, 12 - i + fold * 0.5]),
      parameters: { trainable: TRAINABLE, total: TOTAL[fold], ratio: TRAINABLE / TOTAL[fold] },
      reused: fold === 0,
    })),
    curves: { kl: "the VLB term", perceptual: "feature distance of x̂₀ and x₀" },
    comparison: { rows: comparisonRows, grid: null },
    caveats: ["Small samples: a caveat with <angle brackets> & ampersands."],
    summary: {
      experiment: "fixture",
      folds: 3,
      variants: variants.map((v) => ({ name: v, fid: ms(summaries.fid[v]), kid: ms(summaries.kid[v]), text_control: ms(summaries.text_control[v]), sketch_f1: null, cost: { nfe: NFE[v], seconds_per_image: SECONDS_MEAN_SD[v][0], images_per_s: 1 / SECONDS_MEAN_SD[v][0] } })),
      fid_rm_anova: { F: fid.rm_anova.F, df1: fid.rm_anova.df1, df2: fid.rm_anova.df2, p: fid.rm_anova.p, p_gg: fid.rm_anova.p_gg },
      kid_rm_anova: { F: kid.rm_anova.F, df1: kid.rm_anova.df1, df2: kid.rm_anova.df2, p: kid.rm_anova.p, p_gg: kid.rm_anova.p_gg },
      best_fid: "dpmpp-20",
      real_floor: { fid: FLOOR_FID.reduce((a, b) => a + b, 0) / 3, kid: 0.005 },
      fid_tests: { friedman_p: fid.friedman.p, friedman_method: fid.friedman.p_method, sign_test_p: fid.paired.sign_test.p, wilcoxon_p: fid.paired.wilcoxon.p },
    },
  };
}
