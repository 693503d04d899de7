/** `diffx sample RUN`: generate images from a trained run (see src/sample/sample-run.ts). */
import { Option, type Command } from "commander";
import { UsageError } from "../../errors.js";
import { SAMPLER_NAMES, type SamplerName } from "../../diffusion/samplers/types.js";
import { ENGINE_NAMES, type EngineName } from "../../sample/engine-names.js";
import { DEVICE_REQUESTS, type DeviceRequest } from "../../export/cuda-provider.js";
import type { SampleRunResult } from "../../sample/sample-run.js";
import { globalOptions } from "../context.js";
import { withInterrupt } from "../interrupt.js";
import { Reporter } from "../output.js";

interface SampleOpts {
  device?: DeviceRequest;
  n?: string;
  prompt: string[];
  sketch: string[];
  fromDataset?: boolean;
  sampler?: SamplerName;
  steps?: string;
  guidance?: string;
  eta?: string;
  seed?: string;
  ema?: boolean;
  engine?: EngineName;
  batchSize?: string;
  out?: string;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** A number option as given on the command line (range checks happen in the library). */
function num(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const v = Number(value);
  if (value.trim() === "" || !Number.isFinite(v)) throw new UsageError(`${flag} must be a number, got ${JSON.stringify(value)}`);
  return v;
}

export function registerSample(program: Command): void {
  program
    .command("sample <run>")
    .description("generate images from a trained run (PNGs, grid.png, samples.jsonl); unset options come from the run's sample config")
    .option("--n <count>", "number of samples (default: one per prompt/sketch/dataset pair; 8 for unconditional models)")
    .option("--prompt <text>", "caption for a text model (repeatable; cycled when fewer than --n)", collect, [] as string[])
    .option("--sketch <file>", "sketch image for a sketch model (repeatable; cycled when fewer than --n)", collect, [] as string[])
    .option("--from-dataset", "take captions/sketches from the run's held-out pairs (else its training pairs)")
    .addOption(new Option("--sampler <name>", "sampler").choices(SAMPLER_NAMES))
    .option("--steps <n>", "denoising steps")
    .option("--guidance <w>", "classifier-free guidance scale (1 = none)")
    .option("--eta <eta>", "DDIM η (0 = deterministic)")
    .option("--seed <seed>", "sampling seed (default: the run's seed); sample i's noise depends only on (seed, i)")
    .option("--ema", "use the EMA weights")
    .option("--no-ema", "use the raw (non-EMA) weights")
    .addOption(new Option("--engine <engine>", "network engine").choices(ENGINE_NAMES))
    .addOption(new Option("--device <device>", "where onnxruntime samples (--engine onnx; default: the run's engine.device)").choices(DEVICE_REQUESTS))
    .option("--batch-size <n>", "samples per network call")
    .option("--out <dir>", "output folder (new or empty; default RUN/samples/<sampler>-<steps>-seed<seed>)")
    .action(async (run: string, opts: SampleOpts, cmd: Command) => {
      const { sampleRun } = await import("../../sample/sample-run.js"); // loads tfjs: not at start-up
      const g = globalOptions(cmd);
      const rep = new Reporter(g);
      const r = await withInterrupt(rep, (signal) =>
        sampleRun({
          run,
          n: num("--n", opts.n),
          prompts: opts.prompt,
          sketches: opts.sketch,
          fromDataset: opts.fromDataset ?? false,
          sampler: opts.sampler,
          steps: num("--steps", opts.steps),
          guidance: num("--guidance", opts.guidance),
          eta: num("--eta", opts.eta),
          seed: num("--seed", opts.seed),
          ema: opts.ema,
          engine: opts.engine,
          batchSize: num("--batch-size", opts.batchSize),
          out: opts.out,
          backend: g.backend,
          device: opts.device,
          progress: rep,
          signal,
        }),
      );
      if (!r.runManifest.recorded && r.outDir.startsWith(r.runDir)) rep.warn(`the run manifest was not updated: ${r.runManifest.reason}`);
      rep.result(humanSummary(r), jsonSummary(r));
      if (r.interrupted) process.exitCode = 130;
    });
}

function humanSummary(r: SampleRunResult): string {
  const s = r.settings;
  const engine =
    r.engine.engine === "tfjs"
      ? `tfjs ${r.engine.backend} (${r.engine.threads} thread${r.engine.threads === 1 ? "" : "s"})`
      : `onnxruntime-node ${r.engine.version} ${r.engine.backend} (${r.engine.threads} thread${r.engine.threads === 1 ? "" : "s"}; ${r.engine.file ? `model ${r.engine.file}` : "model traced from the checkpoint"})`;
  const lines = [
    r.interrupted ? `interrupted: wrote ${r.written} of ${r.requested} samples to ${r.outDir}` : `wrote ${r.written} sample${r.written === 1 ? "" : "s"} to ${r.outDir}`,
    `files: ${r.records.length ? `${r.records[0]?.file}${r.records.length > 1 ? ` … ${r.records[r.records.length - 1]?.file}` : ""}, ` : ""}${r.grid ? "grid.png, " : ""}samples.jsonl, manifest.json`,
    `weights: ${s.ema ? "EMA" : "raw"}, checkpoint step ${r.step}`,
    `sampler: ${s.sampler}, ${s.steps} steps${s.sampler === "ddim" ? `, eta ${s.eta}` : ""}${s.guidance === null ? "" : `, guidance ${s.guidance}`}, seed ${s.seed}, batch ${s.batch_size}`,
    `engine: ${engine}`,
    `time: ${r.seconds.toFixed(2)} s; sampling ${r.seconds_per_image.toPrecision(3)} s per image (${r.nfe} network evaluations each, measured on this machine)${r.seconds_per_image > 0 ? `, ${(1 / r.seconds_per_image).toPrecision(3)} images/s` : ""}`,
  ];
  return lines.join("\n");
}

function jsonSummary(r: SampleRunResult): unknown {
  return {
    run: r.runDir,
    out: r.outDir,
    requested: r.requested,
    written: r.written,
    interrupted: r.interrupted,
    settings: r.settings,
    conditions: r.conditions,
    engine: r.engine,
    checkpoint_step: r.step,
    files: r.records.map((x) => x.file),
    grid: r.grid,
    seconds: r.seconds,
    seconds_per_image: r.seconds_per_image,
    nfe: r.nfe,
    run_manifest_updated: r.runManifest.recorded,
  };
}
