/**
 * Routing between more than two models from per-model scores (the MF
 * router's `modelScores`, or any router that provides them), where
 * P(m beats n | prompt) = sigmoid(score_m − score_n).
 *
 * Two policies over priced candidates:
 * - `quality-minus-price`: maximise expected quality − lambda · price, where
 *   the expected quality of m is its mean win probability against the other
 *   candidates (for two candidates, exactly the pair win rate);
 * - `cheapest-above-threshold`: the cheapest candidate whose win probability
 *   against the best-scoring candidate is at least the threshold (the best
 *   candidate itself has 0.5, so a threshold above 0.5 always picks it).
 */
import { ModelAliases, type Router } from "@routellm/core"
import { Errors } from "@routellm/core"
import { Effect, Schema } from "effect"
import { sigmoid } from "./Model.ts"

export const Candidate = Schema.Struct({
  model: Schema.String,
  price: Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)).annotate({
    description: "Cost of sending a prompt to this model, e.g. dollars per million tokens"
  })
})
export type Candidate = typeof Candidate.Type

export const Policy = Schema.Union([
  Schema.Struct({
    kind: Schema.Literal("quality-minus-price"),
    lambda: Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)).annotate({ description: "Quality given up per unit of price" })
  }),
  Schema.Struct({
    kind: Schema.Literal("cheapest-above-threshold"),
    threshold: Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 })).annotate({
      description: "Least win probability against the best candidate"
    })
  })
])
export type Policy = typeof Policy.Type

/** Mean win probability of each candidate against the others. */
export const expectedQuality = (scores: ArrayLike<number>): Float64Array => {
  const count = scores.length
  const out = new Float64Array(count)
  if (count === 1) {
    out[0] = 1
    return out
  }
  for (let m = 0; m < count; m++) {
    let sum = 0
    for (let n = 0; n < count; n++) if (n !== m) sum += sigmoid(scores[m]! - scores[n]!)
    out[m] = sum / (count - 1)
  }
  return out
}

/** Index of the chosen candidate; prices and scores are in candidate order. */
export const choose = (scores: ArrayLike<number>, prices: ArrayLike<number>, policy: Policy): number => {
  const count = scores.length
  if (policy.kind === "quality-minus-price") {
    const quality = expectedQuality(scores)
    let best = 0
    let bestValue = Number.NEGATIVE_INFINITY
    for (let m = 0; m < count; m++) {
      const value = quality[m]! - policy.lambda * prices[m]!
      // ties go to the cheaper, then the better-scoring candidate
      if (
        value > bestValue + 1e-12 ||
        (Math.abs(value - bestValue) <= 1e-12 && (prices[m]! < prices[best]! || (prices[m] === prices[best] && scores[m]! > scores[best]!)))
      ) {
        best = m
        bestValue = value
      }
    }
    return best
  }
  let top = 0
  for (let m = 1; m < count; m++) if (scores[m]! > scores[top]!) top = m
  let chosen = top
  for (let m = 0; m < count; m++) {
    if (sigmoid(scores[m]! - scores[top]!) < policy.threshold) continue
    if (prices[m]! < prices[chosen]! || (prices[m] === prices[chosen] && scores[m]! > scores[chosen]!)) chosen = m
  }
  return chosen
}

export interface Choice {
  readonly model: string
  readonly price: number
  /** Each candidate's score, in candidate order. */
  readonly scores: ReadonlyArray<number>
  readonly expectedQuality: number
}

/** Route one prompt among priced candidates with a router that provides `modelScores`. */
export const route = Effect.fn("MultiModel.route")(function*(
  router: Router.RouterShape,
  prompt: string,
  candidates: ReadonlyArray<Candidate>,
  policy: Policy
) {
  if (router.modelScores === undefined) {
    return yield* new Errors.RouterError({ routerId: router.id, reason: "this router has no per-model scores (modelScores)" })
  }
  const known = yield* router.modelScores(prompt)
  const scores: Array<number> = []
  for (const candidate of candidates) {
    const key = ModelAliases.find(known.keys(), candidate.model)
    if (key === undefined) {
      return yield* new Errors.RouterError({
        routerId: router.id,
        reason: `candidate ${candidate.model} is not a model the router knows (${[...known.keys()].join(", ")})`
      })
    }
    scores.push(known.get(key)!)
  }
  const index = choose(scores, candidates.map((candidate) => candidate.price), policy)
  return {
    model: candidates[index]!.model,
    price: candidates[index]!.price,
    scores,
    expectedQuality: expectedQuality(scores)[index]!
  } satisfies Choice
})
