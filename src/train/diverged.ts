/**
 * What to tell the user when training diverges (a loss or gradient norm that is NaN or ±∞), so
 * that the advice can be followed:
 *
 * - Resuming cannot help: a resumed run repeats the same steps with the same data order and
 *   noise (bit for bit on CPU), so it diverges again at the same step. And a run is one config:
 *   its config hash is recorded and `diffx verify` re-runs it from step 0, so `--resume` does
 *   not take `--set train.lr=…` (a learning rate changed part-way would make the record false).
 * - What works is a new run with a lower learning rate, from the run's own resolved config
 *   (RUN/config.yaml) with `--set train.lr=…`: the command is given in full, with a tenth of
 *   the current rate (or the default rate, when even a tenth is above it).
 * - Whether a checkpoint exists is said as it is: with none, there is nothing to resume at all.
 */
import * as path from "node:path";
import { trainSchema, type Config } from "../config/schema.js";
import { RUN_FILES } from "../runs/folder.js";

const DEFAULT_LR = trainSchema.parse({}).lr;

/** A number as the user would type it for --set (1e-4 rather than 0.00009999999). */
function lrText(lr: number): string {
  return Number(lr.toPrecision(3)).toString();
}

/**
 * The message for a non-finite `what` ("loss", "gradient norm") at `step` of the run in `runDir`;
 * `checkpointStep` is the newest checkpoint on disk (null when there is none).
 */
export function divergedMessage(what: string, value: number, step: number, runDir: string, config: Config, checkpointStep: number | null): string {
  const lr = config.train.lr;
  const command = `diffx train ${path.join(runDir, RUN_FILES.config)} --set train.lr=${lrText(Math.min(lr / 10, DEFAULT_LR))}`;
  const kept =
    checkpointStep === null
      ? "no checkpoint was written before it, so there is nothing to resume"
      : `the checkpoint at step ${checkpointStep} is intact, but resuming would repeat the same steps and diverge again`;
  return `${what} is ${value} at step ${step}; training stopped (train.lr ${lrText(lr)} is likely too high, or the data is bad). ${kept[0].toUpperCase()}${kept.slice(1)}. Start a new run with a lower learning rate: ${command}`;
}
