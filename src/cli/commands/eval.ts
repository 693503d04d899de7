import type { Command } from "commander";
import { notBuilt } from "../not-built.js";

export function registerEval(program: Command): void {
  program.command("eval <config>").description("k-fold cross-validated evaluation with FID/KID and ANOVA").option("--folds <k>", "number of folds").option("--parallel <n>", "folds run at once").action(notBuilt("eval"));
}
