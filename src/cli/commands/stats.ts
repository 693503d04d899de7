/** `diffx stats TABLE.csv`: fold summaries, ANOVAs, Friedman and post-hoc tests of a fold,variant,value table. */
import type { Command } from "commander";
import { analyseMatrix, formatStatsText, readTableCsv, statsWarnings, toFoldMatrix } from "../../stats/index.js";
import { globalOptions } from "../context.js";
import { Reporter } from "../output.js";

export function registerStats(program: Command): void {
  program
    .command("stats <table>")
    .description("fold statistics, ANOVA, Friedman and post-hoc tests for a fold,variant,value table")
    .addHelpText(
      "after",
      "\nTABLE is a CSV file whose header contains at least fold,variant,value (other columns are\nignored), with one row per fold × variant. --json prints summary, rm_anova, friedman\n(exact at ≤ 10 folds), paired (exact sign and Wilcoxon tests, two variants), posthoc and\nwarnings (every n/a or inf in the result, and why).",
    )
    .action((table: string, _opts: unknown, cmd: Command) => {
      const reporter = new Reporter(globalOptions(cmd));
      const result = analyseMatrix(toFoldMatrix(readTableCsv(table), table));
      const warnings = statsWarnings(result);
      for (const w of warnings) reporter.warn(w);
      reporter.result(formatStatsText(result, table), { ...result, warnings });
    });
}
