import { assert, describe, it } from "@effect/vitest"
import { Matrix, Random, type Records } from "@routellm/core"
import { Reference, SimilarityWeighted, SwRouter } from "@routellm/router-sw"
import { embedSync, syntheticBattles } from "./support.ts"

const trainState = (battles: ReadonlyArray<Records.Battle>, numTiers = 4) => {
  const { prompts } = SimilarityWeighted.uniquePrompts(battles)
  return SimilarityWeighted.build(battles, embedSync(prompts), { numTiers })
}

const config = (overrides: Partial<SwRouter.Config> = {}): SwRouter.Config => ({
  strongModel: "gpt-4-1106-preview",
  weakModel: "mixtral-8x7b-instruct-v0.1",
  numTiers: 4,
  embedder: "embedder/test-hash",
  weighting: SimilarityWeighted.defaultWeighting,
  regularization: 0,
  similarity: "javascript",
  batchSize: 64,
  ...overrides
})

const queries = [
  "Solve the algebra equation: find x when 7 x plus 2 equals zero",
  "Chat with me about a holiday and the weather",
  "Something unrelated entirely",
  "algebra holiday"
]

const queryOptions = (state: SimilarityWeighted.State) => {
  const found = SwRouter.players(state, config())
  if ("reason" in found) throw new Error(found.reason)
  return { ...found, weighting: SimilarityWeighted.defaultWeighting }
}

describe("similarity weighting", () => {
  it("weights a battle by 10 * 10^(sim / max_sim)", () => {
    const weights = SimilarityWeighted.weightsOf([0.5, 1, -0.2, 0.25], SimilarityWeighted.defaultWeighting, new Float64Array(4))
    const expected = [10 * Math.pow(10, 0.5), 100, 10 * Math.pow(10, -0.2), 10 * Math.pow(10, 0.25)]
    weights.forEach((weight, index) => assert.closeTo(weight, expected[index]!, 1e-9))
    // Relative to the most similar prompt: halving every similarity leaves the weights unchanged.
    const halved = SimilarityWeighted.weightsOf([0.25, 0.5, -0.1, 0.125], SimilarityWeighted.defaultWeighting, new Float64Array(4))
    halved.forEach((weight, index) => assert.closeTo(weight, expected[index]!, 1e-9))
  })

  it("agrees with the straightforward per-battle weighted logistic regression", () => {
    const battles = syntheticBattles()
    const state = trainState(battles)
    const options = queryOptions(state)
    const fast = SimilarityWeighted.winRates(state, Matrix.normalizeRows(embedSync(queries)), options)
    const { promptOf } = SimilarityWeighted.uniquePrompts(battles)
    const tierPlayer = new Map(state.models.map((model) => [model.name, state.tiers.indexOf(model.tier)]))
    const reference: Reference.Battles = {
      a: Int32Array.from(battles, (battle) => tierPlayer.get(battle.model_a)!),
      b: Int32Array.from(battles, (battle) => tierPlayer.get(battle.model_b)!),
      winner: battles.map((battle) => battle.winner),
      embeddings: Matrix.take(state.embeddings, promptOf),
      players: state.tiers.length
    }
    const slow = Matrix.normalizeRows(embedSync(queries))
    queries.forEach((_, index) => {
      const expected = Reference.winRate(reference, Matrix.row(slow, index), options)
      // The fast path keeps similarities in float32 (the reference sums in float64): agreement to ~1e-8.
      assert.closeTo(fast[index]!, expected, 1e-7, queries[index])
    })
    // The weighting moves the answer: the strong model is far likelier to win on algebra than on small talk.
    assert.isAbove(fast[0]! - fast[1]!, 0.1)
  })

  it("does not depend on the order of the battles", () => {
    const battles = syntheticBattles(3)
    const shuffled = Random.shuffle(battles, Random.make(99))
    const left = trainState(battles)
    const right = trainState(shuffled)
    assert.deepStrictEqual(left.models, right.models.map((model) => ({ ...model })))
    const embedded = Matrix.normalizeRows(embedSync(queries))
    const a = SimilarityWeighted.winRates(left, embedded, queryOptions(left))
    const b = SimilarityWeighted.winRates(right, embedded, queryOptions(right))
    a.forEach((value, index) => assert.closeTo(value, b[index]!, 1e-9))
  })

  it("scores a batch exactly as one query at a time, whatever the block size", () => {
    const state = trainState(syntheticBattles(5))
    const embedded = Matrix.normalizeRows(embedSync(queries))
    const batched = SimilarityWeighted.winRates(state, embedded, { ...queryOptions(state), blockSize: 3 })
    queries.forEach((_, index) => {
      const single = SimilarityWeighted.winRates(state, Matrix.take(embedded, [index]), queryOptions(state))
      assert.strictEqual(single[0], batched[index])
    })
  })

  it("maps models never seen in training through modelTiers", () => {
    const state = trainState(syntheticBattles())
    const missing = SwRouter.players(state, config({ strongModel: "gpt-4o" }))
    assert.isTrue("reason" in missing && missing.reason.includes("modelTiers"))
    const mapped = SwRouter.players(state, config({ strongModel: "gpt-4o", modelTiers: { "gpt-4o": "gpt4_1106_preview" } }))
    assert.deepStrictEqual(mapped, SwRouter.players(state, config()))
    const byNumber = SwRouter.players(state, config({ strongModel: "gpt-4o", modelTiers: { "gpt-4o": 0 } }))
    assert.isTrue("strongPlayer" in byNumber && state.tiers[byNumber.strongPlayer] === 0)
  })
})
