/** `diffx metrics check CONFIG [--features SPEC] [--only LADDER,…] [--set k=v]… [--json]`: the disturbance ladders. */
import type { Command } from "commander";
import { UsageError } from "../../errors.js";
import { globalOptions } from "../context.js";
import { Reporter } from "../output.js";
import { collectSets } from "./config.js";

interface CheckOpts {
  features?: string;
  only?: string;
  set: string[];
}

export function registerMetricsCheck(program: Command): void {
  const metrics = program.command("metrics").description("checks of the eval metrics themselves");
  metrics
    .command("check <config>")
    .description(
      "disturbance ladders (Heusel et al. 2017: Gaussian noise, blur, black rectangles, swirl, salt-and-pepper, contamination with the other domain) " +
        "applied to the config's real images at the eval's resolution and n; FID and KID per level and whether each rises monotonically",
    )
    .option("--features <extractor>", "domain | pixels | onnx:PATH (default: the config's eval.features)")
    .option("--only <ladders>", "comma-separated subset: gaussian-noise, gaussian-blur, black-rectangles, swirl, salt-and-pepper, contamination")
    .option("--set <key=value>", "override a config key (repeatable)", collectSets, [] as string[])
    .addHelpText("after", "\n--json prints a list of {disturbance, level, fid, kid}. Exit code 0 even when a ladder fails: the output says which.")
    .action(async (config: string, opts: CheckOpts, cmd: Command) => {
      const { runMetricsCheck, formatMetricsCheck } = await import("../../eval/metrics-check.js");
      const { LADDERS } = await import("../../metrics/disturb.js");
      const rep = new Reporter(globalOptions(cmd));
      const names = LADDERS.map((l) => l.name);
      const only = opts.only?.split(",").map((s) => s.trim()).filter(Boolean);
      const unknown = only?.find((n) => !(names as string[]).includes(n));
      if (unknown) throw new UsageError(`--only: unknown ladder '${unknown}' (one of ${names.join(", ")})`);
      const r = await runMetricsCheck({ configFile: config, sets: opts.set, features: opts.features, only: only as typeof names | undefined, progress: rep });
      rep.result(formatMetricsCheck(r), r.rows);
    });
}
