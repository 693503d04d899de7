import type { Command } from "commander";
import { notBuilt } from "../not-built.js";

export function registerVerify(program: Command): void {
  program.command("verify <run>").description("re-run recorded stages and compare hashes (exit code for CI)").option("--stage <stage>", "data | train | sample | eval | all").option("--steps <k>", "re-run only the first K training steps").action(notBuilt("verify"));
}
