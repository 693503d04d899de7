/** A training run's tokenizer (tokenizer.json), read and checked; null for models without text. */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Config } from "../config/schema.js";
import { RuntimeFailure } from "../errors.js";
import { Tokenizer } from "../model/tokenizer.js";
import { RUN_FILES } from "../runs/folder.js";

export function openRunTokenizer(runDir: string, config: Config): Tokenizer | null {
  if (config.model.conditioning !== "text") return null;
  const file = path.join(runDir, RUN_FILES.tokenizer);
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
    throw new RuntimeFailure(missing ? `${file}: missing (a text-conditioned run keeps its tokenizer there)` : `${file}: unreadable tokenizer (${(err as Error).message})`);
  }
  return Tokenizer.fromJSON(json, file);
}
