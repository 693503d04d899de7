/** `diffx config show` (resolved YAML + hash) and `diffx config reference` (the key table). */
import type { Command } from "commander";
import { stringify } from "yaml";
import { loadConfig } from "../../config/load.js";
import { configSchema } from "../../config/schema.js";
import { describeKeys, referenceMarkdown } from "../../config/walk.js";
import { globalOptions } from "../context.js";
import { Reporter } from "../output.js";
import * as fs from "node:fs";
import { writeFileAtomic } from "../../engine/atomic.js";
import { UsageError } from "../../errors.js";

/** Replace the text between `<!-- NAME:start -->` and `<!-- NAME:end -->` in a file. */
function updateMarkedSection(file: string, name: string, body: string): void {
  const text = fs.readFileSync(file, "utf8");
  const re = new RegExp(`(<!-- ${name}:start -->\\n)[\\s\\S]*?(<!-- ${name}:end -->)`);
  if (!re.test(text)) throw new UsageError(`${file}: no <!-- ${name}:start --> … <!-- ${name}:end --> markers`);
  writeFileAtomic(file, text.replace(re, (_m, a: string, b: string) => a + body + b));
}

export const collectSets = (v: string, prev: string[]): string[] => [...prev, v];

export function registerConfig(program: Command): void {
  const c = program.command("config").description("inspect experiment configs");
  c.command("show <config>")
    .description("print the resolved config (extends and --set applied, defaults filled) and its hash")
    .option("--set <key=value>", "override a config key (repeatable)", collectSets, [] as string[])
    .action((file: string, opts: { set: string[] }, cmd: Command) => {
      const { config, hash } = loadConfig(file, opts.set);
      new Reporter(globalOptions(cmd)).result(`${stringify(config)}# config hash: ${hash}\n`, { config, hash });
    });
  c.command("reference")
    .description("print every config key with its type, default and meaning (Markdown)")
    .option("--update <file>", "replace the table between the config-reference markers in FILE (e.g. README.md)")
    .action((opts: { update?: string }, cmd: Command) => {
      const table = referenceMarkdown(configSchema);
      if (opts.update) {
        updateMarkedSection(opts.update, "config-reference", table);
        return;
      }
      new Reporter(globalOptions(cmd)).result(table, describeKeys(configSchema));
    });
}
