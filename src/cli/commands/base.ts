/** `diffx base list|show`: the pretrained base models `train.init: base:NAME` fine-tunes from. */
import type { Command } from "commander";
import { findBases, readBaseMeta, baseDir, type BaseMeta } from "../../train/base-file.js";
import { globalOptions } from "../context.js";
import { Reporter } from "../output.js";

interface Summary {
  name: string;
  dir: string;
  conditioning: string;
  resolution: number;
  channels: number[];
  corpus: string;
  steps: number | null;
  fid: number | null;
  text_control: number | null;
}

function field<T>(meta: BaseMeta, ...keys: string[]): T | null {
  let v: unknown = meta;
  for (const k of keys) {
    if (!v || typeof v !== "object") return null;
    v = (v as Record<string, unknown>)[k];
  }
  return v === undefined ? null : (v as T);
}

function summary(name: string, dir: string, meta: BaseMeta): Summary {
  const corpus = `${field<string>(meta, "corpus", "kind") ?? "?"} n=${field<number>(meta, "corpus", "n") ?? "?"} seed=${field<number>(meta, "corpus", "seed") ?? "?"}`;
  return {
    name,
    dir,
    conditioning: meta.model.conditioning,
    resolution: meta.model.resolution,
    channels: meta.model.channels,
    corpus,
    steps: field<number>(meta, "pretraining", "steps"),
    fid: field<number>(meta, "scores", "fid"),
    text_control: field<number>(meta, "scores", "text_control", "success_rate"),
  };
}

export function registerBase(program: Command): void {
  const b = program.command("base").description("pretrained base models (train.init: base:NAME)");
  b.command("list")
    .description("the base models diffx can fine-tune from (shipped, and those in $DIFFX_BASES)")
    .action((_opts: unknown, cmd: Command) => {
      const rep = new Reporter(globalOptions(cmd));
      const rows = findBases().map(({ name, dir }) => summary(name, dir, readBaseMeta(dir)));
      const human = rows.length
        ? rows.map((r) => `${r.name.padEnd(12)} ${r.conditioning.padEnd(6)} ${r.resolution} px, channels [${r.channels.join(", ")}], ${r.steps ?? "?"} steps on ${r.corpus}; held-out FID ${r.fid?.toFixed(1) ?? "?"}${r.text_control !== null ? `, text control ${(r.text_control * 100).toFixed(1)} %` : ""}`).join("\n")
        : "no base models found (diffx pretrain CONFIG makes one)";
      rep.result(human, rows);
    });
  b.command("show <name>")
    .description("a base's metadata: model, corpus, pretraining, held-out scores, sha256")
    .action((name: string, _opts: unknown, cmd: Command) => {
      const rep = new Reporter(globalOptions(cmd));
      const dir = baseDir(name);
      const meta = readBaseMeta(dir);
      const { pretraining, ...rest } = meta as BaseMeta & { pretraining?: Record<string, unknown> };
      const brief = { ...rest, tokenizer: meta.tokenizer ? `${(meta.tokenizer as { vocab: string[] }).vocab.length} tokens` : null, params: `${meta.params.length} tensors`, pretraining: pretraining ? { ...pretraining, config: "(see base.json)" } : undefined };
      rep.result(`${dir}\n${JSON.stringify(brief, null, 2)}`, meta);
    });
}
