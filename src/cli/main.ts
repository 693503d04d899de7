/**
 * Entry point: builds the commander program, runs it, and turns every error into one clear
 * message and an exit code (2 usage/config, 1 runtime). Stack traces only with --debug.
 */
import { CommanderError } from "commander";
import { buildProgram } from "./program.js";
import { DiffxError } from "../errors.js";

/** Errors that escape the command (a failed event handler): one line, exit 1, stack only with --debug; a closed stdout/stderr is not one (see outputGone). */
function installLastResort(debug: boolean): void {
  const fail = (err: unknown): void => {
    const e = err as Error;
    process.stderr.write(`diffx: ${err instanceof DiffxError || isSystemError(err) ? "" : "internal error: "}${e && e.message ? e.message : String(err)}\n`);
    if (debug && e && e.stack) process.stderr.write(e.stack + "\n");
    process.exit(err instanceof DiffxError ? err.exitCode : 1);
  };
  process.on("uncaughtException", fail);
  process.on("unhandledRejection", fail);
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (err: NodeJS.ErrnoException) => {
      if (OUTPUT_GONE.has(err.code ?? "")) outputGone(stream, err.code ?? "");
      else fail(err);
    });
  }
}

/**
 * An error the operating system returned for a file or socket (permission denied, read-only file
 * system, too many open files…): the user's environment, not a bug in diffx. Node's message
 * already names the code, the call and the path ("EACCES: permission denied, open '/x/y'").
 */
function isSystemError(err: unknown): err is NodeJS.ErrnoException {
  const e = err as NodeJS.ErrnoException;
  return err instanceof Error && typeof e.code === "string" && /^E[A-Z0-9]+$/.test(e.code) && typeof e.syscall === "string";
}

/** Streams whose reader went away (writes to them are dropped). */
const gone = new Set<NodeJS.WriteStream>();

/** Write errors that mean the reader of a stream is gone (`| head`, a closed terminal or SSH session). */
const OUTPUT_GONE = new Set(["EPIPE", "EIO", "ECONNRESET"]);

/**
 * The reader of stdout or stderr went away (`diffx train … | head -2`, a log collector that died).
 * diffx carries on with that stream's output dropped, rather than stop: its product is the files
 * it writes, and a training or eval of hours should not be lost (or left half-written with a
 * stale lock and status "running") because a pipe closed. Stopping stays one Ctrl-C (or
 * SIGTERM/SIGHUP) away, and is then a clean interruption. Said once on the other stream.
 */
function outputGone(stream: NodeJS.WriteStream, code: string): void {
  if (gone.has(stream)) return;
  gone.add(stream);
  stream.write = (() => true) as typeof stream.write;
  if (stream === process.stdout && !gone.has(process.stderr)) {
    process.stderr.write(`warning: standard output was closed (${code}); diffx carries on without it and still writes every file (Ctrl-C stops it cleanly)\n`);
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
    if (isSystemError(err)) {
      process.stderr.write(`diffx: ${err.message}\n`);
      if (debug && err.stack) process.stderr.write(err.stack + "\n");
      return 1;
    }
    const e = err as Error;
    process.stderr.write(`diffx: internal error: ${e && e.message ? e.message : String(err)}\n`);
    if (debug && e && e.stack) process.stderr.write(e.stack + "\n");
    else process.stderr.write("(run again with --debug for the stack trace)\n");
    return 1;
  }
}
