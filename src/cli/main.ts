/**
 * Entry point: builds the commander program, runs it, and turns every error into one clear
 * message and an exit code (2 usage/config, 1 runtime). Stack traces only with --debug.
 */
import { CommanderError } from "commander";
import { buildProgram } from "./program.js";
import { DiffxError } from "../errors.js";

/** Errors that escape the command (a failed event handler, a broken pipe): one line, exit 1, stack only with --debug. */
function installLastResort(debug: boolean): void {
  const fail = (err: unknown): void => {
    const e = err as Error;
    process.stderr.write(`diffx: ${err instanceof DiffxError ? "" : "internal error: "}${e && e.message ? e.message : String(err)}\n`);
    if (debug && e && e.stack) process.stderr.write(e.stack + "\n");
    process.exit(err instanceof DiffxError ? err.exitCode : 1);
  };
  process.on("uncaughtException", fail);
  process.on("unhandledRejection", fail);
  // `diffx … | head`: the reader went away; stop quietly, as Unix tools do
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EPIPE") process.exit(0);
      fail(err);
    });
  }
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  const debug = argv.includes("--debug");
  installLastResort(debug);
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
