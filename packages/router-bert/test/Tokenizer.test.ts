import { assert, describe, it } from "@effect/vitest"
import { Files } from "@routellm/core"
import { Tokenizer } from "@routellm/router-bert"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { minilmTokenizer } from "../../../test/support/SharedData.ts"

// The real vocabulary, read independently of the tokenizer: line i is token id i.
const vocabulary = Fs.readFileSync(Path.join(minilmTokenizer, "vocab.txt"), "utf8").split("\n")
const idOf = (token: string) => vocabulary.indexOf(token)

describe("Tokenizer (real all-MiniLM-L6-v2 tokenizer.json)", () => {
  it.effect("encodes WordPiece ids that match vocab.txt, wrapped in [CLS] ... [SEP]", () =>
    Effect.gen(function*() {
      const tokenizer = yield* Tokenizer.load(minilmTokenizer)
      assert.strictEqual(tokenizer.modelMaxLength, 512)
      assert.deepStrictEqual(tokenizer.prefix, [idOf("[CLS]")])
      assert.deepStrictEqual(tokenizer.suffix, [idOf("[SEP]")])
      assert.strictEqual(tokenizer.padId, idOf("[PAD]"))
      assert.strictEqual(tokenizer.vocabularySize, 30522)
      // Lower-casing, accent stripping and WordPiece continuation pieces.
      assert.deepStrictEqual(
        [...tokenizer.encode("Hello, World! Naïve routing")],
        ["[CLS]", "hello", ",", "world", "!", "naive", "routing", "[SEP]"].map(idOf)
      )
      assert.deepStrictEqual(tokenizer.tokens("LLMs"), ["[CLS]", "ll", "##ms", "[SEP]"])
      assert.strictEqual(tokenizer.decode(tokenizer.contentIds("hello world")), "hello world")
    }).pipe(Effect.provide(Files.layer)))

  it.effect("truncates to the maximum length keeping [SEP] and pads a batch to its longest row", () =>
    Effect.gen(function*() {
      const tokenizer = yield* Tokenizer.load(Path.join(minilmTokenizer, "tokenizer.json"))
      const long = Array.from({ length: 50 }, (_, index) => `word${index % 7}`).join(" ")
      const ids = tokenizer.encode(long, 10)
      assert.strictEqual(ids.length, 10)
      assert.strictEqual(ids[0], idOf("[CLS]"))
      assert.strictEqual(ids[9], idOf("[SEP]"))
      assert.deepStrictEqual(ids.slice(1, 9), tokenizer.contentIds(long).slice(0, 8))

      const batch = tokenizer.encodeBatch(["hello", "hello world again", ""], 16)
      assert.strictEqual(batch.rows, 3)
      assert.strictEqual(batch.columns, 5)
      assert.deepStrictEqual([...batch.lengths], [3, 5, 2])
      assert.deepStrictEqual([...batch.attentionMask].map(Number), [1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0])
      assert.deepStrictEqual(
        [...batch.inputIds.subarray(0, 5)].map(Number),
        [idOf("[CLS]"), idOf("hello"), idOf("[SEP]"), 0, 0]
      )
    }).pipe(Effect.provide(Files.layer)))

  it("reads an XLM-R layout (Unigram, Metaspace, <s> ... </s>) and truncates keeping </s>", () => {
    const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })
    // A tiny Unigram vocabulary in XLM-RoBERTa's layout: ids 0-3 are <s> <pad> </s> <unk>.
    const tokenizer = Tokenizer.fromJson("xlmr-tokenizer.json", {
      version: "1.0",
      truncation: null,
      padding: null,
      added_tokens: [special(0, "<s>"), special(1, "<pad>"), special(2, "</s>"), special(3, "<unk>")],
      normalizer: null,
      pre_tokenizer: { type: "Metaspace", replacement: "▁", prepend_scheme: "always", split: true },
      post_processor: { type: "RobertaProcessing", sep: ["</s>", 2], cls: ["<s>", 0], trim_offsets: true, add_prefix_space: true },
      decoder: { type: "Metaspace", replacement: "▁", prepend_scheme: "always", split: true },
      model: {
        type: "Unigram",
        unk_id: 3,
        byte_fallback: false,
        vocab: [["<s>", 0], ["<pad>", 0], ["</s>", 0], ["<unk>", 0], ["▁hello", -2], ["▁world", -2.5], ["▁", -3], ["▁hell", -4], ["o", -4.5]]
      }
    }, { model_max_length: 512, pad_token: "<pad>" })
    assert.deepStrictEqual([tokenizer.prefix, tokenizer.suffix, tokenizer.padId], [[0], [2], 1])
    // Viterbi picks the higher-scoring whole pieces over ▁hell + o.
    assert.deepStrictEqual(tokenizer.tokens("hello world"), ["<s>", "▁hello", "▁world", "</s>"])
    assert.deepStrictEqual([...tokenizer.encode("hello world hello")], [0, 4, 5, 4, 2])
    assert.deepStrictEqual([...tokenizer.encode("hello world hello", 4)], [0, 4, 5, 2])
  })

  it.effect("reports a missing tokenizer with its path", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Tokenizer.load("/nonexistent/tokenizer.json"))
      assert.strictEqual(error._tag, "MissingInputError")
      assert.include(error.message, "/nonexistent/tokenizer.json")
    }).pipe(Effect.provide(Files.layer)))
})
