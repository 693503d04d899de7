/**
 * Entry point: builds the commander program, runs it, and turns every error into one clear
 * message and an exit code (2 usage/config, 1 runtime). Stack traces only with --debug.
 */
import { CommanderError } from "commander";
import { buildProgram } from "./program.js";
import { DiffxError } from "../errors.js";

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  const debug = argv.includes("--debug");
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.code === "commander.help") return 0;
      return 2; // commander already printed the message
    }
    if (err instanceof DiffxError) {
      process.stderr.write(`diffx: ${err.message}\n`);
      if (debug && err.stack) process.stderr.write(err.stack + "\n");
      return err.exitCode;
    }
    const e = err as Error;
    process.stderr.write(`diffx: internal error: ${e && e.message ? e.message : String(err)}\n`);
    if (debug && e && e.stack) process.stderr.write(e.stack + "\n");
    else process.stderr.write("(run again with --debug for the stack trace)\n");
    return 1;
  }
}
