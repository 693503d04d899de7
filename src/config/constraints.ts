/**
 * Constraints between config keys, checked when a config is loaded (after the schema, which
 * checks each key alone), so `config show`, `train`, `eval` and `data build` refuse a config
 * that cannot run before any work — not after a whole training, when sampling its grid finds
 * that `sample.steps` exceeds `diffusion.timesteps`.
 *
 * The model rules mirror what src/model checks when it builds the network (unet.ts,
 * text-encoder.ts), which stay as the last line of defence; config may not import model code.
 * Every eval variant is checked with its overrides applied.
 */
import type { Config, DatasetConfig, DiffusionConfig, ModelConfig, SampleConfig } from "./schema.js";

export interface ConstraintIssue {
  /** The key the message is about. */
  path: string[];
  message: string;
  /** Other keys the rule involves (their origin is named when it differs). */
  related: string[][];
}

function issue(path: string, message: string, ...related: string[]): ConstraintIssue {
  return { path: path.split("."), message, related: related.map((r) => r.split(".")) };
}

function samplingIssues(sample: Pick<SampleConfig, "steps">, diffusion: Pick<DiffusionConfig, "timesteps">): ConstraintIssue[] {
  if (sample.steps <= diffusion.timesteps) return [];
  return [
    issue(
      `sample.steps`,
      `${sample.steps} sampling steps cannot be taken in diffusion.timesteps = ${diffusion.timesteps} (at most one step per timestep); lower sample.steps to ${diffusion.timesteps} or raise diffusion.timesteps`,
      `diffusion.timesteps`,
    ),
  ];
}

/** The UNet, text-encoder and cross-attention shape rules (see src/model/unet.ts). */
export function modelIssues(m: ModelConfig): ConstraintIssue[] {
  const out: ConstraintIssue[] = [];
  const levels = m.channels.length;
  const resolutions = m.channels.map((_, i) => m.resolution / 2 ** i);
  if (!Number.isInteger(resolutions[levels - 1])) {
    out.push(issue(`model.resolution`, `${m.resolution} px cannot be halved ${levels - 1} times (one halving per model.channels entry after the first: [${m.channels.join(", ")}])`, `model.channels`));
    return out;
  }
  for (const r of m.attention) {
    if (!resolutions.includes(r)) out.push(issue(`model.attention`, `${r} px is not a UNet level resolution (levels are at ${resolutions.join(", ")} px)`, `model.resolution`, `model.channels`));
  }
  if (m.time_dim % 2 !== 0 || m.time_dim < 4) out.push(issue(`model.time_dim`, `must be even and at least 4, got ${m.time_dim}`));
  for (const c of m.channels) {
    if (c % m.groups !== 0) {
      out.push(issue(`model.groups`, `${m.groups} GroupNorm groups do not divide a feature width of ${c} (from model.channels [${m.channels.join(", ")}])`, `model.channels`));
      break;
    }
  }
  if (m.conditioning === "text") {
    if (m.text_dim % m.text_heads !== 0) out.push(issue(`model.text_heads`, `${m.text_heads} heads do not divide model.text_dim = ${m.text_dim}`, `model.text_dim`));
    m.channels.forEach((c, i) => {
      const crossAttention = m.attention.includes(resolutions[i]) || i === levels - 1;
      if (crossAttention && c % m.text_heads !== 0) {
        out.push(issue(`model.text_heads`, `${m.text_heads} heads do not divide the ${c} channels of the ${resolutions[i]} px level that cross-attends to the text`, `model.channels`));
      }
    });
    if (m.max_tokens < 2) out.push(issue(`model.max_tokens`, `must be at least 2 for a text model (the first token is <bos>, so ${m.max_tokens} leaves no room for a word)`));
  }
  return out;
}

/** (dataset.path for kind folder is left to opening the dataset, before any work: data build then says there is nothing to generate.) */
function datasetIssues(d: DatasetConfig, m: ModelConfig): ConstraintIssue[] {
  const out: ConstraintIssue[] = [];
  if (m.conditioning === "sketch" && d.kind === "art") out.push(issue("model.conditioning", "sketch needs a dataset with sketches, but dataset.kind art has none (use sketch2render, or conditioning text)", "dataset.kind"));
  return out;
}

/** Every cross-key problem of a resolved config (empty when it can run). */
export function crossFieldIssues(c: Config): ConstraintIssue[] {
  const out: ConstraintIssue[] = [...datasetIssues(c.dataset, c.model), ...modelIssues(c.model), ...samplingIssues(c.sample, c.diffusion)];
  c.eval.variants.forEach((v, i) => {
    // only what the variant's own overrides break (the base config's problems are reported above)
    const at = (x: ConstraintIssue): ConstraintIssue => ({ path: ["eval", "variants", String(i), ...x.path], message: `variant '${v.name}': ${x.message}`, related: x.related });
    if (v.sample?.steps !== undefined || v.diffusion?.timesteps !== undefined) {
      for (const x of samplingIssues({ ...c.sample, ...definedOnly(v.sample) }, { ...c.diffusion, ...definedOnly(v.diffusion) })) out.push(at(x));
    }
    if (v.model !== undefined) for (const x of modelIssues({ ...c.model, ...definedOnly(v.model) })) out.push(at(x));
  });
  return out;
}

function definedOnly<T extends object>(o: T | undefined): Partial<T> {
  if (!o) return {};
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
