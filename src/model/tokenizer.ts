/**
 * Caption tokenizer built from the training captions and saved with the run.
 *
 * Text is NFKC-normalised (full-width letters → ASCII) and lower-cased (locale-independent
 * `toLowerCase`). Tokens are single CJK characters (Han, Hiragana, Katakana, Hangul) and runs
 * of other letters / digits (English words); everything else — spaces, punctuation, symbols —
 * separates tokens and is dropped. Apostrophes inside words are dropped ("artist's" → "artists").
 *
 * Vocabulary: PAD = 0, UNK = 1, BOS = 2, then the training tokens by count (descending),
 * ties in code-unit order — deterministic for the same captions in any order.
 * encode(): [BOS, tokens…] cut to maxTokens, padded with PAD; unknown tokens become UNK.
 */
import { UsageError } from "../errors.js";

export const PAD_TOKEN = "<pad>";
export const UNK_TOKEN = "<unk>";
export const BOS_TOKEN = "<bos>";
export const PAD_ID = 0;
export const UNK_ID = 1;
export const BOS_ID = 2;
const SPECIALS = [PAD_TOKEN, UNK_TOKEN, BOS_TOKEN];

export const TOKENIZER_FORMAT = "diffx-tokenizer";
export const TOKENIZER_VERSION = 1;

export interface TokenizerJson {
  format: typeof TOKENIZER_FORMAT;
  version: typeof TOKENIZER_VERSION;
  vocab: string[];
}

const CJK_CHAR = /([\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}])/u;
const LETTER_RUN = /[\p{L}\p{M}\p{N}]+/gu;
const APOSTROPHES = /['\u2019](?=[\p{L}\p{N}])/gu;

/** The tokens of a caption (see the file comment for the rules). */
export function splitCaption(text: string): string[] {
  const normal = text.normalize("NFKC").toLowerCase().replace(APOSTROPHES, "");
  const out: string[] = [];
  for (const [run] of normal.matchAll(LETTER_RUN)) {
    // CJK characters are letters too: split them out of the run one by one (the capture keeps them).
    for (const part of run.split(CJK_CHAR)) if (part) out.push(part);
  }
  return out;
}

export class Tokenizer {
  private readonly ids: Map<string, number>;

  private constructor(readonly vocab: readonly string[]) {
    this.ids = new Map(vocab.map((token, id) => [token, id]));
  }

  /** Build the vocabulary from the training captions. */
  static build(captions: Iterable<string>): Tokenizer {
    const counts = new Map<string, number>();
    for (const caption of captions) for (const token of splitCaption(caption)) counts.set(token, (counts.get(token) ?? 0) + 1);
    const words = [...counts.keys()].sort((a, b) => counts.get(b)! - counts.get(a)! || (a < b ? -1 : a > b ? 1 : 0));
    return new Tokenizer([...SPECIALS, ...words]);
  }

  /**
   * This vocabulary with the caption tokens it lacks appended (by count, then code-unit order,
   * as in build()): ids of the existing tokens are unchanged, so a model trained with this
   * tokenizer reads every known word as before. Used when fine-tuning on new captions.
   */
  extendedWith(captions: Iterable<string>): { tokenizer: Tokenizer; added: string[] } {
    const counts = new Map<string, number>();
    for (const caption of captions) for (const token of splitCaption(caption)) if (!this.ids.has(token)) counts.set(token, (counts.get(token) ?? 0) + 1);
    const added = [...counts.keys()].sort((a, b) => counts.get(b)! - counts.get(a)! || (a < b ? -1 : a > b ? 1 : 0));
    return { tokenizer: added.length ? new Tokenizer([...this.vocab, ...added]) : this, added };
  }

  get size(): number {
    return this.vocab.length;
  }

  /** Token id, UNK_ID when the token is not in the vocabulary. */
  id(token: string): number {
    return this.ids.get(token) ?? UNK_ID;
  }

  /** [BOS, ids…] cut to `maxTokens`, padded with PAD. */
  encode(text: string, maxTokens: number): Int32Array {
    const out = new Int32Array(maxTokens).fill(PAD_ID);
    const ids = [BOS_ID, ...splitCaption(text).map((t) => this.id(t))];
    out.set(ids.slice(0, maxTokens));
    return out;
  }

  toJSON(): TokenizerJson {
    return { format: TOKENIZER_FORMAT, version: TOKENIZER_VERSION, vocab: [...this.vocab] };
  }

  /** Load a saved tokenizer; `source` names the file for error messages. */
  static fromJSON(value: unknown, source: string): Tokenizer {
    if (!value || typeof value !== "object") throw new UsageError(`${source}: not a tokenizer (expected a JSON object)`);
    const v = value as Record<string, unknown>;
    if (v.format !== TOKENIZER_FORMAT) throw new UsageError(`${source}: format is ${JSON.stringify(v.format)}, expected "${TOKENIZER_FORMAT}"`);
    if (v.version !== TOKENIZER_VERSION) throw new UsageError(`${source}: tokenizer version ${JSON.stringify(v.version)} is not supported (this diffx reads version ${TOKENIZER_VERSION})`);
    const vocab = v.vocab;
    if (!Array.isArray(vocab) || !vocab.every((t): t is string => typeof t === "string")) throw new UsageError(`${source}: "vocab" must be an array of strings`);
    for (let i = 0; i < SPECIALS.length; i++) {
      if (vocab[i] !== SPECIALS[i]) throw new UsageError(`${source}: vocab[${i}] must be ${SPECIALS[i]}, got ${JSON.stringify(vocab[i])}`);
    }
    if (new Set(vocab).size !== vocab.length) throw new UsageError(`${source}: "vocab" has duplicate tokens`);
    return new Tokenizer(vocab);
  }
}
