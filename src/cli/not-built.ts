/** Placeholder action for a command whose capability has not been built yet: one line, exit 2. */
import { UsageError } from "../errors.js";

export function notBuilt(command: string): () => never {
  return () => {
    throw new UsageError(`'diffx ${command}' is not built yet in this version of diffx`);
  };
}
