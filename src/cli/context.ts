/**
 * What every command gets from the global options: the chosen backend, output mode, and a
 * Reporter that turns library progress into a bar, plain lines or nothing.
 */
import type { Command } from "commander";

export interface GlobalOptions {
  backend?: "tensorflow" | "wasm" | "cpu";
  quiet: boolean;
  json: boolean;
  debug: boolean;
}

export function globalOptions(cmd: Command): GlobalOptions {
  const o = cmd.optsWithGlobals() as Partial<GlobalOptions>;
  return { backend: o.backend, quiet: Boolean(o.quiet), json: Boolean(o.json), debug: Boolean(o.debug) };
}
