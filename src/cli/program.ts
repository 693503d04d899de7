/** The commander program: global options and one registration per command file. */
import { Command, Option } from "commander";
import { DIFFX_VERSION } from "../runs/version.js";
import { registerConfig } from "./commands/config.js";
import { registerData } from "./commands/data.js";
import { registerDoctor } from "./commands/doctor.js";
import { registerEval } from "./commands/eval.js";
import { registerExport } from "./commands/export.js";
import { registerFeatures } from "./commands/features.js";
import { registerFid } from "./commands/fid.js";
import { registerMetricsCheck } from "./commands/metrics-check.js";
import { registerSample } from "./commands/sample.js";
import { registerStats } from "./commands/stats.js";
import { registerTrain } from "./commands/train.js";
import { registerPretrain } from "./commands/pretrain.js";
import { registerBase } from "./commands/base.js";
import { registerVerify } from "./commands/verify.js";
import { registerStatus } from "./commands/status.js";
import { registerTask } from "./commands/task.js";

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("diffx")
    .description("Experiment runner for conditional diffusion models on small paired datasets")
    .version(DIFFX_VERSION, "-V, --version")
    .addOption(new Option("--backend <name>", "tfjs backend to use").choices(["tensorflow", "wasm", "cpu"]))
    .option("-q, --quiet", "print only warnings and errors")
    .option("--json", "machine-readable JSON on stdout")
    .option("--debug", "show stack traces")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureHelp({ sortSubcommands: false });

  registerData(program);
  registerTrain(program);
  registerPretrain(program);
  registerBase(program);
  registerSample(program);
  registerExport(program);
  registerEval(program);
  registerStatus(program);
  registerFid(program);
  registerMetricsCheck(program);
  registerStats(program);
  registerVerify(program);
  registerFeatures(program);
  registerDoctor(program);
  registerConfig(program);
  registerTask(program);

  // every subcommand inherits exitOverride so usage errors come back to main()
  const applyExitOverride = (cmd: Command): void => {
    cmd.exitOverride();
    cmd.commands.forEach(applyExitOverride);
  };
  program.commands.forEach(applyExitOverride);
  return program;
}
