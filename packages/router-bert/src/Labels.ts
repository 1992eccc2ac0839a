/**
 * Labelling battles for the classifier as RouteLLM does: a battle between a
 * model of the strong tier and a model of the weak tier becomes label
 * 0 (strong model wins), 1 (tie) or 2 (weak model wins). Battles inside one
 * tier or with a model of neither tier are left out. Tiers are lists of model
 * names matched through the core alias table; `*` in the weak list stands for
 * every model not in the strong list.
 */
import { ModelAliases, type Records } from "@routellm/core"

export const STRONG_WINS = 0
export const TIE = 1
export const WEAK_WINS = 2

export interface Tiers {
  readonly strongModels: ReadonlyArray<string>
  readonly weakModels: ReadonlyArray<string>
}

export interface Labelled {
  readonly prompts: Array<string>
  readonly labels: Uint8Array
  readonly weights: Float32Array
  /** Battles per label: [strong wins, tie, weak wins]. */
  readonly counts: readonly [number, number, number]
  /** Battles left out (same tier or unknown model). */
  readonly skipped: number
}

const tierOf = (tiers: Tiers) => {
  const strong = new Set(tiers.strongModels.map(ModelAliases.canonical))
  const weakAll = tiers.weakModels.includes("*")
  const weak = new Set(tiers.weakModels.filter((name) => name !== "*").map(ModelAliases.canonical))
  return (model: string): "strong" | "weak" | undefined => {
    const name = ModelAliases.canonical(model)
    if (strong.has(name)) return "strong"
    if (weak.has(name) || weakAll) return "weak"
    return undefined
  }
}

/** The label of one battle, or undefined when it is not a strong-vs-weak battle. */
export const labelOf = (tiers: Tiers) => {
  const tier = tierOf(tiers)
  return (battle: Records.Battle): number | undefined => {
    const a = tier(battle.model_a)
    const b = tier(battle.model_b)
    if (a === undefined || b === undefined || a === b) return undefined
    if (battle.winner === "tie") return TIE
    const winnerTier = battle.winner === "model_a" ? a : b
    return winnerTier === "strong" ? STRONG_WINS : WEAK_WINS
  }
}

/**
 * Label by ratings instead of fixed tiers: in every battle the model with the
 * higher win rate in that battle's source (against all its opponents there)
 * plays the strong side, when the two rates differ by at least `minimumGap`.
 * The head then learns how much a stronger model gains on a prompt, from every
 * source and model pair, not only from the battles of two named models.
 */
export const ratingsLabelOf = (battles: ReadonlyArray<Records.Battle>, minimumGap: number) => {
  const wins = new Map<string, number>()
  const games = new Map<string, number>()
  const key = (battle: Records.Battle, model: string) => `${battle.source ?? ""}\u0000${ModelAliases.canonical(model)}`
  for (const battle of battles) {
    const weight = battle.weight ?? 1
    const scoreA = battle.winner === "model_a" ? 1 : battle.winner === "tie" ? 0.5 : 0
    for (const [model, score] of [[battle.model_a, scoreA], [battle.model_b, 1 - scoreA]] as const) {
      const k = key(battle, model)
      wins.set(k, (wins.get(k) ?? 0) + weight * score)
      games.set(k, (games.get(k) ?? 0) + weight)
    }
  }
  const rate = (battle: Records.Battle, model: string) => {
    const k = key(battle, model)
    return (wins.get(k) ?? 0) / Math.max(games.get(k) ?? 0, 1e-12)
  }
  return (battle: Records.Battle): number | undefined => {
    const gap = rate(battle, battle.model_a) - rate(battle, battle.model_b)
    if (Math.abs(gap) < minimumGap || ModelAliases.canonical(battle.model_a) === ModelAliases.canonical(battle.model_b)) return undefined
    if (battle.winner === "tie") return TIE
    return (battle.winner === "model_a") === gap > 0 ? STRONG_WINS : WEAK_WINS
  }
}

export type Pairs = { readonly kind: "tiers"; readonly tiers: Tiers } | { readonly kind: "ratings"; readonly minimumGap: number }

/** Label every battle (one row per battle, as Hugging Face trainers read them). */
export const labelBattles = (battles: ReadonlyArray<Records.Battle>, pairs: Pairs): Labelled =>
  pairs.kind === "tiers" ? label(battles, pairs.tiers) : labelWith(battles, ratingsLabelOf(battles, pairs.minimumGap))

/**
 * Sum labelled rows per distinct prompt and label: a prompt judged in 130
 * battles becomes one to three weighted rows, so features are computed and the
 * head trained once per prompt, not once per battle (the same loss).
 */
export const perPrompt = (labelled: Labelled): Labelled => {
  const rows = new Map<string, number>()
  const prompts: Array<string> = []
  const labels: Array<number> = []
  const weights: Array<number> = []
  labelled.prompts.forEach((prompt, index) => {
    const value = labelled.labels[index]!
    const key = `${value}\u0000${prompt}`
    let row = rows.get(key)
    if (row === undefined) {
      rows.set(key, row = prompts.length)
      prompts.push(prompt)
      labels.push(value)
      weights.push(0)
    }
    weights[row]! += labelled.weights[index]!
  })
  return { prompts, labels: Uint8Array.from(labels), weights: Float32Array.from(weights), counts: labelled.counts, skipped: labelled.skipped }
}

export const label = (battles: ReadonlyArray<Records.Battle>, tiers: Tiers): Labelled => labelWith(battles, labelOf(tiers))

const labelWith = (battles: ReadonlyArray<Records.Battle>, labelBattle: (battle: Records.Battle) => number | undefined): Labelled => {
  const prompts: Array<string> = []
  const labels: Array<number> = []
  const weights: Array<number> = []
  const counts: [number, number, number] = [0, 0, 0]
  let skipped = 0
  for (const battle of battles) {
    const value = labelBattle(battle)
    if (value === undefined || (battle.weight !== undefined && !(battle.weight > 0))) {
      skipped++
      continue
    }
    prompts.push(battle.prompt)
    labels.push(value)
    weights.push(battle.weight ?? 1)
    counts[value]!++
  }
  return { prompts, labels: Uint8Array.from(labels), weights: Float32Array.from(weights), counts, skipped }
}
