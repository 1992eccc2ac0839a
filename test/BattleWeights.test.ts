/**
 * Battle weights reach every router's training: two sources that disagree on
 * the same real prompts, reweighted by augment/reweight, move what SW, MF and
 * the BERT head learn toward the heavier source.
 */
import { assert, describe, it } from "@effect/vitest"
import { Reweight } from "@routellm/augment"
import { Matrix, Progress, Random, type Records } from "@routellm/core"
import { Head, Labels } from "@routellm/router-bert"
import { Model, Training } from "@routellm/router-mf"
import { SimilarityWeighted } from "@routellm/router-sw"
import { Effect, Schema } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { evalDirectory } from "./support/SharedData.ts"

const strong = "model-x"
const weak = "model-y"

/** MT Bench's 80 first turns; source "says-x" has model-x win each, "says-y" model-y. */
const conflicting = (): Array<Records.Battle> => {
  const prompts = Fs.readFileSync(Path.join(evalDirectory, "mt_bench", "question.jsonl"), "utf8").split("\n")
    .filter((line) => line.trim() !== "").map((line) => (JSON.parse(line) as { turns: Array<string> }).turns[0]!)
  return prompts.flatMap((prompt) => [
    { prompt, model_a: strong, model_b: weak, winner: "model_a" as const, source: "says-x" },
    { prompt, model_a: strong, model_b: weak, winner: "model_b" as const, source: "says-y" }
  ])
}

const reweighted = (weights: Record<string, number>) =>
  Effect.map(Reweight.reweight(conflicting(), Schema.decodeUnknownSync(Reweight.Config)({ weights })), (result) => result.kept)

/**
 * A fixed random feature vector per distinct prompt whose first entry is 1
 * (the sources disagree on every prompt, so any features do; MF has no bias
 * term and learns a constant lean through the constant entry).
 */
const features = (prompts: ReadonlyArray<string>, columns: number) => {
  const generator = Random.make(3)
  const byPrompt = new Map<string, Float32Array>()
  const data = new Float32Array(prompts.length * columns)
  prompts.forEach((prompt, row) => {
    let vector = byPrompt.get(prompt)
    if (vector === undefined) {
      vector = Float32Array.from({ length: columns }, (_, column) => column === 0 ? 1 : generator.normal())
      byPrompt.set(prompt, vector)
    }
    data.set(vector, row * columns)
  })
  return Matrix.make(prompts.length, columns, data)
}

const mean = (values: ArrayLike<number>) => Array.from(values).reduce((sum, value) => sum + value, 0) / values.length

describe("battle weights in training", () => {
  it.effect("SW: Bradley-Terry ratings follow the heavier source; weight 3 fits like three copies", () =>
    Effect.gen(function*() {
      const rating = (battles: ReadonlyArray<Records.Battle>) => {
        const rated = SimilarityWeighted.rateModels(battles)
        return rated.get(strong)!.rating - rated.get(weak)!.rating
      }
      const towardX = yield* reweighted({ "says-x": 3 })
      const towardY = yield* reweighted({ "says-y": 3 })
      assert.isAbove(rating(towardX), 100)
      assert.isBelow(rating(towardY), -100)
      assert.closeTo(rating(conflicting()), 0, 1e-6)
      const copies = conflicting().flatMap((battle) => battle.source === "says-x" ? [battle, battle, battle] : [battle])
      assert.closeTo(rating(towardX), rating(copies), 1e-6)
      // The similarity-weighted state aggregates weighted counts per prompt too.
      const embeddings = features(SimilarityWeighted.uniquePrompts(towardX).prompts, 8)
      const state = SimilarityWeighted.build(towardX, embeddings, { numTiers: 2 })
      assert.closeTo(state.entryCounts.reduce((sum, value) => sum + value, 0), (3 + 1) * 2 * 80, 1e-9)
    }))

  it.effect("MF: prepare carries the weights, the loss weighs them like copies, and training leans to the heavier source", () =>
    Effect.gen(function*() {
      const towardX = yield* reweighted({ "says-x": 3 })
      const prepared = Training.prepare(towardX, "drop")
      assert.deepStrictEqual([...prepared.examples.weight], towardX.map((battle) => battle.weight ?? 1))
      const embeddings = features(prepared.prompts, 16)
      const copies = Training.prepare(conflicting().flatMap((battle) => battle.source === "says-x" ? [battle, battle, battle] : [battle]), "drop")
      const parameters = Model.initialize(prepared.modelIds, 8, 16, 5)
      assert.closeTo(
        Training.evaluate(parameters, prepared.examples, embeddings).loss,
        Training.evaluate(parameters, copies.examples, embeddings).loss,
        1e-6
      )
      const options = { ...Training.defaults, dimensions: 8, epochs: 30, patience: 0, validationFraction: 0, learningRate: 0.01, batchSize: 32 }
      for (const [weights, sign] of [[{ "says-x": 3 }, 1], [{ "says-y": 3 }, -1]] as const) {
        const battles = yield* reweighted(weights)
        const examples = Training.prepare(battles, "drop")
        const result = yield* Training.train(examples.modelIds, examples.examples, features(examples.prompts, 16), options)
        const vectors = Model.scoringVectors(result.parameters)
        const winRates = Model.pairWinRates(
          Model.pairVector(vectors, Model.indexOf(result.parameters, strong), Model.indexOf(result.parameters, weak)),
          features(examples.prompts, 16)
        )
        // Three to one: the fitted win rate of model-x heads for 0.75 (or 0.25).
        assert.isTrue(sign * (mean(winRates) - 0.5) > 0.1, `mean win rate ${mean(winRates)} for ${JSON.stringify(weights)}`)
      }
    }).pipe(Effect.provideService(Progress.Reporter, Progress.silent)))

  it.effect("BERT head: labels carry the weights and the head predicts the heavier source's winner", () =>
    Effect.gen(function*() {
      const tiers = { strongModels: [strong], weakModels: [weak] }
      for (const [weights, expected] of [[{ "says-x": 3 }, Labels.STRONG_WINS], [{ "says-y": 3 }, Labels.WEAK_WINS]] as const) {
        const battles = yield* reweighted(weights)
        const labelled = Labels.label(battles, tiers)
        assert.deepStrictEqual([...labelled.weights], battles.map((battle) => battle.weight ?? 1))
        const x = features(labelled.prompts, 8)
        const result = Head.train(x, labelled.labels, labelled.weights, {
          labels: 3,
          epochs: 30,
          learningRate: 0.05,
          l2: 0,
          batchSize: 64,
          validationShare: 0,
          seed: 1,
          classWeights: "none",
          patience: 100
        })
        const logits = Head.logits(result.head, x)
        let agree = 0
        for (let row = 0; row < labelled.prompts.length; row++) {
          const strongWins = logits[row * 3 + Labels.STRONG_WINS]!
          const weakWins = logits[row * 3 + Labels.WEAK_WINS]!
          if ((expected === Labels.STRONG_WINS) === (strongWins > weakWins)) agree++
        }
        assert.isAbove(agree / labelled.prompts.length, 0.9, JSON.stringify(weights))
      }
    }))
})
