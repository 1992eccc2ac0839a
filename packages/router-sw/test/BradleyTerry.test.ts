import { assert, describe, it } from "@effect/vitest"
import { Matrix, type Records } from "@routellm/core"
import { BradleyTerry, Reference, SimilarityWeighted } from "@routellm/router-sw"

const battle = (model_a: string, model_b: string, winner: Records.Winner): Records.Battle => ({
  prompt: `${model_a} vs ${model_b}`,
  model_a,
  model_b,
  winner
})

const close = (actual: number, expected: number, tolerance = 1e-6) => assert.isTrue(Math.abs(actual - expected) <= tolerance, `${actual} is not ${expected}`)

describe("Bradley-Terry ratings (Elo scale 400, base 10, 1000)", () => {
  it("rates a 3-1 record 400*log10(3) apart, centred on 1000", () => {
    const ratings = SimilarityWeighted.rateModels([
      battle("a", "b", "model_a"),
      battle("a", "b", "model_a"),
      battle("b", "a", "model_b"),
      battle("a", "b", "model_b")
    ])
    // A wins 3 of 4: p = 3/4 = 1 / (1 + 10^(-d/400)) gives d = 400 log10 3.
    close(ratings.get("a")!.rating, 1000 + 200 * Math.log10(3))
    close(ratings.get("b")!.rating, 1000 - 200 * Math.log10(3))
    assert.strictEqual(ratings.get("a")!.battles, 4)
  })

  it("counts a tie as half a win each way", () => {
    // One win and one tie: duplicated, 2 + 1 wins against 1, the same 3:1 odds.
    const ratings = SimilarityWeighted.rateModels([battle("a", "b", "model_a"), battle("b", "a", "tie")])
    close(ratings.get("a")!.rating - ratings.get("b")!.rating, 400 * Math.log10(3))
  })

  it("puts a model that only ever ties level with its opponent", () => {
    const ratings = SimilarityWeighted.rateModels([
      battle("a", "b", "model_a"),
      battle("a", "b", "model_a"),
      battle("a", "b", "model_a"),
      battle("a", "b", "model_b"),
      battle("c", "a", "tie"),
      battle("a", "c", "tie")
    ])
    // A tree of comparisons is fitted edge by edge: a = c, a - b = 400 log10 3; the sum-zero gauge fixes the level.
    close(ratings.get("a")!.rating, 1000 + (400 * Math.log10(3)) / 3)
    close(ratings.get("c")!.rating, 1000 + (400 * Math.log10(3)) / 3)
    close(ratings.get("b")!.rating, 1000 - (800 * Math.log10(3)) / 3)
  })

  it("calibrates llama-2-70b-chat to 1082 as RouteLLM does", () => {
    const ratings = SimilarityWeighted.rateModels([
      battle("llama-2-70b-chat", "b", "model_a"),
      battle("llama-2-70b-chat", "b", "model_b"),
      battle("llama-2-70b-chat", "b", "model_a")
    ])
    close(ratings.get("llama-2-70b-chat")!.rating, 1082)
    close(ratings.get("b")!.rating, 1082 - 400 * Math.log10(2))
  })

  it("plays a self-battle against the 1000-rated anchor, like RouteLLM's overwritten design row", () => {
    // a beats b 3:1; a vs a: model_b wins 3 times, model_a once. RouteLLM's row for a self-battle
    // holds only -ln 10 at a, so model_b winning is a win of a over a 1000-rated opponent (odds 3:1).
    const comparisons = BradleyTerry.comparisonsOf(2, [
      { a: 0, b: 1, winner: "model_a", weight: 3 },
      { a: 0, b: 1, winner: "model_b", weight: 1 },
      { a: 0, b: 0, winner: "model_b", weight: 3 },
      { a: 0, b: 0, winner: "model_a", weight: 1 }
    ])
    const elo = BradleyTerry.toElo(BradleyTerry.fit(comparisons))
    close(elo[0]!, 1000 + 400 * Math.log10(3))
    close(elo[1]!, 1000)
    // The row-by-row logistic regression on RouteLLM's design matrix agrees.
    const embeddings = Matrix.make(4, 1, new Float32Array([1, 1, 1, 1]))
    const battles: Reference.Battles = {
      a: Int32Array.from([0, 0, 0, 0]),
      b: Int32Array.from([1, 1, 0, 0]),
      winner: ["model_a", "model_b", "model_b", "model_a"],
      embeddings,
      players: 2
    }
    const { x, y } = Reference.design(battles)
    const weights = new Float64Array([3, 1, 3, 1, 3, 1, 3, 1])
    const coefficients = Reference.logisticRegression(x, y, weights, 2)
    close(400 * coefficients[0]! + 1000, 1000 + 400 * Math.log10(3))
    close(400 * coefficients[1]! + 1000, 1000)
  })

  it("turns ratings into win rates 1 - 1 / (1 + 10^((Rs - Rw) / 400))", () => {
    close(BradleyTerry.winProbability(1400, 1000), 10 / 11, 1e-12)
    close(BradleyTerry.winProbability(1000, 1000), 0.5, 1e-12)
    close(BradleyTerry.winProbability(1000, 1400), 1 / 11, 1e-12)
  })

  it("keeps ratings finite on separable data with a penalty", () => {
    const comparisons = BradleyTerry.comparisonsOf(2, [{ a: 0, b: 1, winner: "model_a", weight: 1 }])
    const coefficients = BradleyTerry.fit(comparisons, { regularization: 1 })
    assert.isTrue(Number.isFinite(coefficients[0]!) && coefficients[0]! > 0 && coefficients[0]! === -coefficients[1]!)
  })
})
