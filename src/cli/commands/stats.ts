/** `diffx stats TABLE.csv`: fold summaries, ANOVAs, Friedman and post-hoc tests of a fold,variant,value table. */
import type { Command } from "commander";
import { analyseMatrix, formatStatsText, readTableCsv, toFoldMatrix } from "../../stats/index.js";
import { globalOptions } from "../context.js";
import { Reporter } from "../output.js";

export function registerStats(program: Command): void {
  program
    .command("stats <table>")
    .description("fold statistics, ANOVA, Friedman and post-hoc tests for a fold,variant,value table")
    .addHelpText(
      "after",
      "\nTABLE is a CSV file whose header contains at least fold,variant,value (other columns are\nignored), with one row per fold × variant. --json prints summary, rm_anova, friedman\n(exact at ≤ 10 folds), paired (exact sign and Wilcoxon tests, two variants) and posthoc.",
    )
    .action((table: string, _opts: unknown, cmd: Command) => {
      const reporter = new Reporter(globalOptions(cmd));
      const result = analyseMatrix(toFoldMatrix(readTableCsv(table), table));
      reporter.result(formatStatsText(result, table), result);
    });
}
