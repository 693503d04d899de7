import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { UsageError } from "../../src/errors.js";
import { BOS_ID, PAD_ID, splitCaption, Tokenizer, UNK_ID } from "../../src/model/tokenizer.js";

describe("tokenizer", () => {
  it("splits lower-cased words and single CJK characters, dropping punctuation", () => {
    assert.deepEqual(splitCaption("A Blue-green PAINTING, artist's view (1889)!"), ["a", "blue", "green", "painting", "artists", "view", "1889"]);
    assert.deepEqual(splitCaption("油画风格，山水"), ["油", "画", "风", "格", "山", "水"]);
    assert.deepEqual(splitCaption("ukiyo-e浮世絵 style"), ["ukiyo", "e", "浮", "世", "絵", "style"]);
    assert.deepEqual(splitCaption("ＦＵＬＬ width ｗｏｒｄｓ"), ["full", "width", "words"]); // NFKC
    assert.deepEqual(splitCaption("  ...  "), []);
  });

  it("orders the vocabulary PAD, UNK, BOS, then by count and code units, whatever the caption order", () => {
    const captions = ["red circle", "blue circle", "red square 红"];
    const t = Tokenizer.build(captions);
    assert.deepEqual(t.vocab, ["<pad>", "<unk>", "<bos>", "circle", "red", "blue", "square", "红"]);
    assert.deepEqual(Tokenizer.build([...captions].reverse()).vocab, t.vocab);
    assert.equal(t.size, 8);
  });

  it("encodes to [BOS, ids…, PAD…] with UNK for unseen tokens, cut at maxTokens", () => {
    const t = Tokenizer.build(["red circle", "blue circle", "red square 红"]);
    assert.deepEqual(Array.from(t.encode("Red, green circle!", 6)), [BOS_ID, 4, UNK_ID, 3, PAD_ID, PAD_ID]);
    assert.deepEqual(Array.from(t.encode("red red red red red", 3)), [BOS_ID, 4, 4]);
    assert.deepEqual(Array.from(t.encode("", 2)), [BOS_ID, PAD_ID]);
    assert.ok(t.encode("x", 4) instanceof Int32Array);
  });

  it("round-trips through JSON and rejects malformed files naming the file", () => {
    const t = Tokenizer.build(["a b c", "红 a"]);
    const again = Tokenizer.fromJSON(JSON.parse(JSON.stringify(t)), "run/tokenizer.json");
    assert.deepEqual(again.vocab, t.vocab);
    assert.deepEqual(again.encode("a 红 c", 5), t.encode("a 红 c", 5));
    const bad = (v: unknown, re: RegExp) => assert.throws(() => Tokenizer.fromJSON(v, "run/tokenizer.json"), (e: unknown) => e instanceof UsageError && re.test(e.message) && e.message.startsWith("run/tokenizer.json"));
    bad(null, /not a tokenizer/);
    bad({ format: "other", version: 1, vocab: [] }, /format/);
    bad({ format: "diffx-tokenizer", version: 2, vocab: [] }, /version 2/);
    bad({ format: "diffx-tokenizer", version: 1, vocab: ["<pad>", "<unk>", "<bos>", 3] }, /array of strings/);
    bad({ format: "diffx-tokenizer", version: 1, vocab: ["<unk>", "<pad>", "<bos>"] }, /vocab\[0\]/);
    bad({ format: "diffx-tokenizer", version: 1, vocab: ["<pad>", "<unk>", "<bos>", "a", "a"] }, /duplicate/);
  });
});
