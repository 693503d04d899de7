/**
 * Pretrained bases and fine-tuning (issue 14), through the real CLI with tiny settings:
 * - `diffx pretrain` is bit-identical across two processes (same weights sha256 and scores);
 * - a fine-tune from `base:NAME` starts from the base's weights: its first logged loss equals
 *   the loss of the base file's weights on the same batch, computed here directly with the tfjs
 *   forward (captions encoded with the base's own tokenizer, new words as <unk>);
 * - an imported dataset with words the base never saw fine-tunes: the run's tokenizer is the
 *   base's with the new words appended, and the manifest names them;
 * - a model or vocabulary mismatch is an exit-2 error naming both sides, with nothing written;
 * - a base can continue another base (train.init: base:NAME in a pretraining config), and says so.
 */
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { runCli, tempDir, ROOT } from "../helpers/cli.js";
import { loadConfig } from "../../src/config/load.js";
import { initBackend } from "../../src/engine/backend.js";
import { encodePng, createImage } from "../../src/engine/image.js";
import { makeSchedule } from "../../src/diffusion/schedule.js";
import { diffusionLoss, objectiveConfig } from "../../src/diffusion/objective.js";
import { openDataset } from "../../src/data/build.js";
import { forward } from "../../src/model/model.js";
import { TfjsOps, paramVariables, disposeTensors } from "../../src/nn/tfjs-ops.js";
import { readBase, shippedBasesDir } from "../../src/train/base-file.js";
import { checkpointDir, listCheckpoints, readCheckpoint } from "../../src/train/checkpoint.js";
import { nextBatch } from "../../src/train/batches.js";
import { loadTrainingSet } from "../../src/train/load-training-set.js";
import { stepInputs } from "../../src/train/step-inputs.js";
import { Tokenizer, UNK_ID } from "../../src/model/tokenizer.js";

const TINY = path.join(ROOT, "configs", "ci-tiny.yaml");

function pretrainConfig(dir: string): string {
  const file = path.join(dir, "pretrain-tiny.yaml");
  fs.writeFileSync(
    file,
    [
      `extends: ${TINY}`,
      "name: pretrain-tiny",
      "dataset: { kind: art, name: corpus-tiny, n: 16, image_size: 16, seed: 2000900 }",
      "pretrain: { base: tiny, heldout_n: 6, heldout_seed: 2000901 }",
      "train: { steps: 6, checkpoint_every: 3, sample_grid: 0 }",
      "",
    ].join("\n"),
  );
  return file;
}

function firstLoss(runDir: string): number {
  const first = fs.readFileSync(path.join(runDir, "metrics.jsonl"), "utf8").split("\n")[0];
  return (JSON.parse(first) as { loss: number }).loss;
}

function dirEntries(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
}

describe("diffx pretrain and train.init", () => {
  const work = tempDir("diffx-pretrain-");
  const bases = path.join(work, "bases");
  const env = { DIFFX_BASES: bases };
  let config = "";

  before(async () => {
    config = pretrainConfig(work);
    await initBackend("cpu", { threads: 1 });
  });

  it("pretrains bit-identically in two processes and writes a base folder with its provenance and held-out scores", () => {
    const a = runCli(["pretrain", config, "--run-dir", path.join(work, "run-a"), "--out", path.join(bases, "tiny"), "--quiet", "--json"], { cwd: work });
    assert.equal(a.code, 0, a.stderr);
    const b = runCli(["pretrain", config, "--run-dir", path.join(work, "run-b"), "--out", path.join(work, "other", "tiny"), "--quiet", "--json"], { cwd: work });
    assert.equal(b.code, 0, b.stderr);
    const ma = JSON.parse(fs.readFileSync(path.join(bases, "tiny", "base.json"), "utf8"));
    const mb = JSON.parse(fs.readFileSync(path.join(work, "other", "tiny", "base.json"), "utf8"));
    assert.equal(ma.weights.sha256, mb.weights.sha256);
    assert.equal(fs.readFileSync(path.join(bases, "tiny", "weights.bin")).equals(fs.readFileSync(path.join(work, "other", "tiny", "weights.bin"))), true);
    assert.deepEqual(ma.scores, mb.scores);
    assert.equal(ma.corpus.seed, 2000900);
    assert.equal(ma.heldout.seed, 2000901);
    assert.equal(ma.pretraining.steps, 6);
    assert.ok(Number.isFinite(ma.pretraining.final_loss));
    assert.equal(ma.scores.n_generated, 6);
    assert.ok(ma.scores.fid > 0 && ma.scores.text_control !== null, "scored like an eval cell, with text control");
    // the tokenizer was built from the corpus's English and Chinese captions
    assert.ok(ma.tokenizer.vocab.some((t: string) => /\p{Script=Han}/u.test(t)) && ma.tokenizer.vocab.includes("painting"));
    // another held-out size in the same folder builds its own held-out set beside the first
    const c = runCli(["pretrain", config, "--set", "pretrain.heldout_n=4", "--run-dir", path.join(work, "run-c"), "--out", path.join(work, "other4", "tiny"), "--quiet", "--json"], { cwd: work });
    assert.equal(c.code, 0, c.stderr);
    const mc = JSON.parse(fs.readFileSync(path.join(work, "other4", "tiny", "base.json"), "utf8"));
    assert.deepEqual([mc.weights.sha256, mc.scores.n_generated], [ma.weights.sha256, 4]);

    const list = runCli(["base", "list", "--json"], { env });
    assert.equal(list.code, 0, list.stderr);
    assert.ok((JSON.parse(list.stdout) as { name: string }[]).some((r) => r.name === "tiny"));
    const show = runCli(["base", "show", "tiny"], { env });
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /"seed": 2000900/);
  });

  it("a base can continue another base (a second stage), names it in its provenance, and never continues itself or a run", () => {
    const tiny = JSON.parse(fs.readFileSync(path.join(bases, "tiny", "base.json"), "utf8")) as { weights: { sha256: string } };
    const out = path.join(work, "stage2", "tiny-more");
    const sets = ["--set", "train.init=base:tiny", "--set", "pretrain.base=tiny-more", "--set", "train.steps=2", "--set", "train.log_every=1"];
    const r = runCli(["pretrain", config, ...sets, "--run-dir", path.join(work, "run-stage2"), "--out", out, "--quiet", "--json"], { cwd: work, env });
    assert.equal(r.code, 0, r.stderr);
    const meta = JSON.parse(fs.readFileSync(path.join(out, "base.json"), "utf8")) as { name: string; weights: { sha256: string }; pretraining: { init: { source: string; sha256: string }; steps: number } };
    assert.deepEqual([meta.name, meta.pretraining.steps, meta.pretraining.init], ["tiny-more", 2, { source: "base:tiny", sha256: tiny.weights.sha256 }]);
    assert.notEqual(meta.weights.sha256, tiny.weights.sha256, "two more steps moved the weights");
    // the first stage's scratch start is recorded as such
    assert.equal(JSON.parse(fs.readFileSync(path.join(bases, "tiny", "base.json"), "utf8")).pretraining.init, "scratch");

    const self = runCli(["pretrain", config, "--set", "train.init=base:tiny", "--run-dir", path.join(work, "run-self")], { cwd: work, env });
    assert.equal(self.code, 2, self.stderr);
    assert.match(self.stderr, /train\.init is base:tiny and pretrain\.base is tiny: a base cannot continue itself/);
    const fromRun = runCli(["pretrain", config, "--set", `train.init=run:${path.join(work, "run-a")}`, "--set", "pretrain.base=other", "--run-dir", path.join(work, "run-from-run")], { cwd: work });
    assert.equal(fromRun.code, 2, fromRun.stderr);
    assert.match(fromRun.stderr, /a base is pretrained from scratch or continues another base \(base:NAME\)/);
    assert.deepEqual([dirEntries(path.join(work, "run-self")), dirEntries(path.join(work, "run-from-run"))], [[], []], "no run folder written");
  });

  it("a fine-tune's first loss equals the base weights' loss on the same batch (the weights really load)", async () => {
    const runDir = path.join(work, "ft");
    const sets = ["--set", "train.init=base:tiny", "--set", "train.steps=1", "--set", "train.log_every=1"];
    const r = runCli(["train", TINY, ...sets, "--run-dir", runDir, "--quiet"], { cwd: work, env });
    assert.equal(r.code, 0, r.stderr);
    const scratch = runCli(["train", TINY, "--set", "train.steps=1", "--set", "train.log_every=1", "--run-dir", path.join(work, "scratch"), "--quiet"], { cwd: work });
    assert.equal(scratch.code, 0, scratch.stderr);

    // the reference: the base file's weights, the base's own tokenizer, the trainer's step-0 batch
    const base = readBase(path.join(bases, "tiny"));
    const { config: c } = loadConfig(TINY, ["train.steps=1"]);
    const ds = openDataset(c.dataset, { cwd: work });
    const data = await loadTrainingSet(ds, c.model.resolution);
    const B = c.train.batch_size;
    const batch = nextBatch(c.seed, data.n, B, { epoch: 0, offset: 0 });
    const positions = Array.from({ length: B }, (_, k) => k);
    const schedule = makeSchedule(c.diffusion);
    const inp = stepInputs(data, c.model, base.tokenizer as Tokenizer, c.seed, 0, positions, batch.indices, schedule.T, c.train.cond_dropout, c.train.flip);
    const R = c.model.resolution;
    const vars = paramVariables(base.params);
    const expected = tf.tidy(() => {
      const a = tf.tensor(Array.from(inp.t, (t) => schedule.sqrtAlphaBars[t]), [B, 1, 1, 1]);
      const s = tf.tensor(Array.from(inp.t, (t) => schedule.sqrtOneMinusAlphaBars[t]), [B, 1, 1, 1]);
      const x0 = tf.tensor(inp.x0, [B, R, R, 3]);
      const eps = tf.tensor(inp.noise, [B, R, R, 3]);
      const out = forward(new TfjsOps(vars), c.model, {
        x: tf.add(tf.mul(a, x0), tf.mul(s, eps)),
        t: tf.tensor(Float32Array.from(inp.t), [B]),
        cond: tf.tensor(inp.cond, [B]),
        tokens: tf.tensor(inp.tokens as Int32Array, [B, c.model.max_tokens], "int32"),
      });
      return diffusionLoss(out, x0, eps, Array.from(inp.t), objectiveConfig(schedule, c.diffusion)).dataSync()[0];
    });
    disposeTensors(vars);
    const got = firstLoss(runDir);
    assert.ok(Math.abs(got - expected) <= 1e-5 * Math.abs(expected), `fine-tune first loss ${got} vs base weights' loss ${expected}`);
    const fromScratch = firstLoss(path.join(work, "scratch"));
    assert.ok(Math.abs(fromScratch - expected) > 1e-3 * Math.abs(expected), `scratch starts elsewhere (${fromScratch} vs ${expected})`);
  });

  it("fine-tunes an imported dataset with words the base never saw: they are appended to the base's vocabulary", () => {
    const src = path.join(work, "mine");
    fs.mkdirSync(path.join(src, "images"), { recursive: true });
    const rows = ["file,caption"];
    const words = ["a zebra quilt of two teal hexagons", "a zebra quilt of one red circle", "a plaid quilt of three teal stars", "a plaid quilt of one red hexagon"];
    words.forEach((caption, i) => {
      const img = createImage(16, 16, 3);
      for (let p = 0; p < 16 * 16; p++) img.data.set([40 * i, 200 - 30 * i, 90], p * 3);
      fs.writeFileSync(path.join(src, "images", `p${i}.png`), encodePng(img));
      rows.push(`p${i}.png,${caption}`);
    });
    fs.writeFileSync(path.join(src, "captions.csv"), rows.join("\n") + "\n");
    const imp = runCli(["data", "import", "--kind", "art", "--from", src, "--out", path.join(work, "mine-ds"), "--quiet"], { cwd: work });
    assert.equal(imp.code, 0, imp.stderr);
    const runDir = path.join(work, "ft-mine");
    const r = runCli(["train", TINY, "--set", "dataset.kind=folder", "--set", `dataset.path=${path.join(work, "mine-ds")}`, "--set", "train.init=base:tiny", "--set", "train.steps=2", "--set", "train.batch_size=4", "--run-dir", runDir, "--quiet"], { cwd: work, env });
    assert.equal(r.code, 0, r.stderr);
    const baseVocab = (JSON.parse(fs.readFileSync(path.join(bases, "tiny", "base.json"), "utf8")) as { tokenizer: { vocab: string[] } }).tokenizer.vocab;
    const runVocab = (JSON.parse(fs.readFileSync(path.join(runDir, "tokenizer.json"), "utf8")) as { vocab: string[] }).vocab;
    assert.deepEqual(runVocab.slice(0, baseVocab.length), baseVocab, "every base token keeps its id");
    for (const w of ["zebra", "quilt", "plaid", "hexagons"]) assert.ok(!baseVocab.includes(w) && runVocab.includes(w), `${w} appended`);
    const manifest = JSON.parse(fs.readFileSync(path.join(runDir, "manifest.json"), "utf8")) as { init: { source: string; added_words: string[]; sha256: string } };
    assert.equal(manifest.init.source, "base:tiny");
    assert.deepEqual(manifest.init.added_words, runVocab.slice(baseVocab.length));
    // sampling the fine-tuned run with a new word works
    const s = runCli(["sample", runDir, "--prompt", "a zebra quilt", "--n", "2", "--quiet"], { cwd: work });
    assert.equal(s.code, 0, s.stderr);
  });

  it("a model mismatch or an unknown base is an exit-2 error naming both sides, and nothing is written", () => {
    const runDir = path.join(work, "bad");
    const shape = runCli(["train", TINY, "--set", "train.init=base:tiny", "--set", "model.channels=[8,8]", "--run-dir", runDir], { cwd: work, env });
    assert.equal(shape.code, 2, shape.stderr);
    assert.match(shape.stderr, /model\.channels: \[8,8\] here, \[8,16\] in base:tiny/);
    const sched = runCli(["train", TINY, "--set", "train.init=base:tiny", "--set", "diffusion.prediction=v", "--run-dir", runDir], { cwd: work, env });
    assert.equal(sched.code, 2, sched.stderr);
    assert.match(sched.stderr, /diffusion\.prediction: "v" here, "eps" in base:tiny/);
    const missing = runCli(["train", TINY, "--set", "train.init=base:nope", "--run-dir", runDir], { cwd: work, env });
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /no base model named 'nope' \(available: .*tiny/);
    const noStep = runCli(["train", TINY, "--set", `train.init=run:${path.join(work, "run-a")}@5`, "--run-dir", runDir], { cwd: work });
    assert.equal(noStep.code, 2, noStep.stderr);
    assert.match(noStep.stderr, /no checkpoint at step 5 \(it has 3, 6\)/);
    assert.deepEqual(dirEntries(runDir), [], "no run folder written");
    // a pretraining config must draw its corpus from the pretraining range, a dataset from the dataset range
    const seed = runCli(["pretrain", config, "--set", "dataset.seed=7"], { cwd: work });
    assert.equal(seed.code, 2);
    assert.match(seed.stderr, /dataset\.seed: 7 is outside the seed range of the base models' pretraining corpora/);
  });

  it("the shipped bases load (sha256 checked), list, and fit the configs they are named in", () => {
    const list = runCli(["base", "list", "--json"]);
    assert.equal(list.code, 0, list.stderr);
    const names = (JSON.parse(list.stdout) as { name: string }[]).map((r) => r.name);
    const sha = (name: string): string => readBase(path.join(ROOT, "src", "train", "bases", name)).meta.weights.sha256;
    // each base, the config that fine-tunes from it, and where its pretraining started
    const shipped: [string, string, string][] = [
      ["art-32", "lora-study.yaml", "scratch"],
      ["art-32-24k", "quickstart.yaml", "base:art-32"],
      ["sketch-32", "quickstart-sketch.yaml", "scratch"],
    ];
    for (const [name, file, init] of shipped) {
      assert.ok(names.includes(name), `${name} is listed`);
      const base = readBase(path.join(ROOT, "src", "train", "bases", name));
      const { config: q } = loadConfig(path.join(ROOT, "configs", file));
      assert.equal(q.train.init, `base:${name}`);
      assert.deepEqual(q.model, base.model, `${file}'s model is the base's`);
      const { config: p } = loadConfig(path.join(ROOT, "configs", `pretrain-${name}.yaml`));
      // made by its pretraining config: what decides the weights is recorded in the base and equal
      // to the config (the config hash itself moves whenever a default outside training changes)
      const meta = base.meta as unknown as { corpus: { seed: number; n: number; image_size: number }; heldout: { seed: number; n: number }; pretraining: { seed: number; steps: number; batch_size: number; lr: number; ema: number; init?: unknown; config: { train: { warmup: number } } } };
      assert.deepEqual(
        { corpus: [meta.corpus.seed, meta.corpus.n, meta.corpus.image_size], heldout: [meta.heldout.seed, meta.heldout.n], seed: meta.pretraining.seed, steps: meta.pretraining.steps, batch: meta.pretraining.batch_size, lr: meta.pretraining.lr, warmup: meta.pretraining.config.train.warmup, ema: meta.pretraining.ema },
        { corpus: [p.dataset.seed, p.dataset.n, p.dataset.image_size], heldout: [p.pretrain?.heldout_seed, p.pretrain?.heldout_n], seed: p.seed, steps: p.train.steps, batch: p.train.batch_size, lr: p.train.lr, warmup: p.train.warmup, ema: p.train.ema },
        `${name} was made by configs/pretrain-${name}.yaml`,
      );
      assert.equal(p.train.init, init);
      // a second stage names the shipped first stage's weights (older bases predate the field)
      if (init !== "scratch") assert.deepEqual(meta.pretraining.init, { source: init, sha256: sha(init.slice("base:".length)) });
    }
  });

  it("a resumed pretraining writes its base where the run was started to write it (--out), not into the shipped folder", () => {
    const runDir = path.join(work, "run-d");
    const out = path.join(work, "resumed", "tiny");
    const first = runCli(["pretrain", config, "--run-dir", runDir, "--out", out, "--until-step", "3", "--quiet"], { cwd: work });
    assert.equal(first.code, 0, first.stderr);
    assert.ok(!fs.existsSync(out), "no base before the run finishes");
    const resumed = runCli(["pretrain", "--resume", runDir, "--quiet", "--json"], { cwd: work });
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal((JSON.parse(resumed.stdout) as { base: string }).base, out);
    assert.ok(!fs.existsSync(path.join(shippedBasesDir(), "tiny")), "nothing written into the shipped bases");
    // 3 + 3 steps through a resume: the same weights as run-a's 6 in one go
    const meta = JSON.parse(fs.readFileSync(path.join(out, "base.json"), "utf8"));
    assert.equal(meta.weights.sha256, JSON.parse(fs.readFileSync(path.join(bases, "tiny", "base.json"), "utf8")).weights.sha256);
  });

  it("train.steps 0 keeps the base as it is: a finished run whose step-0 checkpoint holds the base file's weights, bit for bit", () => {
    const runDir = path.join(work, "zero-shot");
    const r = runCli(["train", TINY, "--set", "train.init=base:tiny", "--set", "train.steps=0", "--run-dir", runDir, "--quiet"], { cwd: work, env });
    assert.equal(r.code, 0, r.stderr);
    const base = readBase(path.join(bases, "tiny"));
    assert.deepEqual(listCheckpoints(runDir), [0]);
    const ckpt = readCheckpoint(checkpointDir(runDir, 0));
    const bits = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    for (const weights of [ckpt.params, ckpt.ema]) {
      assert.deepEqual([...weights.keys()].sort(), [...base.params.keys()].sort());
      for (const [name, t] of base.params) {
        const got = weights.get(name)!.data;
        if (name !== "text.embed") {
          assert.ok(bits(got).equals(bits(t.data)), `${name} differs from the base`);
          continue;
        }
        // ci-tiny's captions have words the base lacks: their rows are appended, each a copy of <unk>'s
        const d = t.shape[1];
        assert.ok(bits(got.subarray(0, t.data.length)).equals(bits(t.data)), "the base's token embeddings differ");
        assert.ok(got.length > t.data.length, "ci-tiny adds words to the base's vocabulary");
        const unk = t.data.subarray(UNK_ID * d, (UNK_ID + 1) * d);
        for (let row = t.data.length / d; row < got.length / d; row++) assert.ok(bits(got.subarray(row * d, (row + 1) * d)).equals(bits(unk)), `appended token ${row} is not <unk>'s embedding`);
      }
    }
    const m = JSON.parse(fs.readFileSync(path.join(runDir, "manifest.json"), "utf8")) as { status: string };
    assert.equal(m.status, "finished");
  });

  it("fine-tunes from any run's checkpoint (run:PATH@STEP) and records which", () => {
    const runDir = path.join(work, "from-run");
    const r = runCli(["train", TINY, "--set", `train.init=run:${path.join(work, "run-a")}@3`, "--set", "train.steps=1", "--run-dir", runDir, "--quiet"], { cwd: work });
    assert.equal(r.code, 0, r.stderr);
    const m = JSON.parse(fs.readFileSync(path.join(runDir, "manifest.json"), "utf8")) as { init: { source: string } };
    assert.equal(m.init.source, `run:${path.join(work, "run-a")}@3`);
  });
});
