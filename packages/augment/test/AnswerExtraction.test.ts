import { assert, describe, it } from "@effect/vitest"
import { AnswerExtraction } from "@routellm/augment"
import { Files } from "@routellm/core"
import { Effect } from "effect"
import * as Path from "node:path"
import { evalDirectory } from "../../../test/support/SharedData.ts"

const strongColumn = "gpt-4-1106-preview"
const weakColumn = "mistralai/Mixtral-8x7B-Instruct-v0.1"

describe("AnswerExtraction", () => {
  it.effect("reproduces the recorded GSM8K correctness from the recorded responses", () =>
    Effect.gen(function*() {
      const { rows } = yield* Files.readCsv(Path.join(evalDirectory, "gsm8k", "gsm8k_responses.csv"))
      assert.strictEqual(rows.length, 1319)
      // Ground truth is not in the file: where one model is recorded correct, its
      // final answer is the truth, and grading the other model must reproduce
      // that model's recorded correctness.
      let checked = 0
      let agreed = 0
      for (const { value } of rows) {
        const responses = { strong: value[`${strongColumn}_response`]!, weak: value[`${weakColumn}_response`]! }
        const recorded = { strong: value[strongColumn] === "True", weak: value[weakColumn] === "True" }
        for (const [reference, other] of [["strong", "weak"], ["weak", "strong"]] as const) {
          if (!recorded[reference]) continue
          const truth = AnswerExtraction.extractNumber(responses[reference])
          if (truth === undefined) continue
          checked++
          if (AnswerExtraction.grade(responses[other], truth, "number").correct === recorded[other]) agreed++
        }
      }
      const agreement = agreed / checked
      assert.isAbove(checked, 1900)
      // Measured 0.980; most disagreements are answers like "$20.00" that the
      // original grader counted wrong and numeric grading counts right.
      assert.isAbove(agreement, 0.97, `agreement ${agreement} on ${checked} gradings`)
    }).pipe(Effect.provide(Files.layer)))

  it.effect("reads GSM8K ground truth from real solutions (#### N)", () =>
    Effect.gen(function*() {
      const { rows } = yield* Files.readJsonl(Path.join(evalDirectory, "gsm8k", "train.jsonl"))
      const first = rows.slice(0, 200).map((row) => row.value as { question: string; answer: string })
      assert.strictEqual(AnswerExtraction.normalizeTruth(first[0]!.answer, "number"), "72")
      assert.strictEqual(AnswerExtraction.normalizeTruth(first[1]!.answer, "number"), "10")
      for (const row of first) {
        const marker = /####\s*(.+)$/.exec(row.answer)![1]!
        assert.strictEqual(AnswerExtraction.normalizeTruth(row.answer, "number"), String(Number(marker.replace(/,/g, ""))))
      }
    }).pipe(Effect.provide(Files.layer)))

  it.effect("finds the option letter in responses to real MMLU questions, in many styles", () =>
    Effect.gen(function*() {
      const { rows } = yield* Files.readCsv(Path.join(evalDirectory, "mmlu", "responses", "mmlu_abstract_algebra.csv"))
      const styles = [
        (letter: string) => letter,
        (letter: string) => `${letter}.`,
        (letter: string) => `(${letter})`,
        (letter: string) => `The answer is (${letter}).`,
        (letter: string) => `**Answer: ${letter}**`,
        (letter: string) => `Let me think. Option A would need 8 elements, option D is too large.\nAnswer: ${letter}`,
        (letter: string) => `The correct option is ${letter}`,
        (letter: string) => `\\boxed{${letter}}`
      ]
      for (const [index, row] of rows.slice(0, 40).entries()) {
        const prompt = row.value.prompt!
        assert.isTrue(prompt.trimEnd().endsWith("Answer:"))
        const letter = "ABCD"[index % 4]!
        for (const style of styles) {
          assert.strictEqual(AnswerExtraction.extractChoice(style(letter)), letter, style(letter))
        }
        // Restating the question's options is not an answer.
        assert.isUndefined(AnswerExtraction.extractChoice(prompt.replace(/\nAnswer:$/, "")))
      }
      assert.isUndefined(AnswerExtraction.extractChoice("A robe takes two bolts"))
      assert.isUndefined(AnswerExtraction.extractChoice("I am not sure; the answer is a matter of taste"))
      assert.isUndefined(AnswerExtraction.extractChoice(""))
    }).pipe(Effect.provide(Files.layer)))

  it("normalises numbers and exact answers", () => {
    assert.strictEqual(AnswerExtraction.extractNumber("so she pays $1,200.50."), "1200.5")
    assert.strictEqual(AnswerExtraction.extractNumber("The answer is 42. Then 7 more"), "42")
    assert.strictEqual(AnswerExtraction.extractNumber("3 x 60 = <<3*60=180>>180 meters"), "180")
    assert.strictEqual(AnswerExtraction.extractNumber("\\boxed{-3}"), "-3")
    assert.isUndefined(AnswerExtraction.extractNumber("no digits here"))
    assert.isTrue(AnswerExtraction.grade("#### $20.00", "20", "number").correct)
    assert.isFalse(AnswerExtraction.grade("#### 21", "20", "number").correct)
    assert.isTrue(AnswerExtraction.grade("  Paris. ", AnswerExtraction.normalizeTruth("paris", "exact")!, "exact").correct)
    assert.isFalse(AnswerExtraction.grade("Lyon", "paris", "exact").correct)
  })
})
