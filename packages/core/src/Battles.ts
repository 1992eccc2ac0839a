/**
 * The on-disk form of a battle dataset step: `battles.jsonl` in the step's
 * artifact directory, one Battle per line.
 */
import { Effect, Schema, Stream } from "effect"
import * as Path from "node:path"
import { InputError } from "./Errors.ts"
import * as Files from "./Files.ts"
import type { StepInput } from "./Plugin.ts"
import * as Port from "./Port.ts"
import { Battle } from "./Records.ts"

export const fileName = "battles.jsonl"

export const write = (directory: string, battles: ReadonlyArray<Battle>) => Files.writeJsonl(Path.join(directory, fileName), battles)

const decodeBattle = Schema.decodeUnknownExit(Battle)

/** Read the battles of a dataset step's artifact. */
export const read = (directory: string) =>
  Effect.gen(function*() {
    const file = Path.join(directory, fileName)
    const { rows } = yield* Files.readJsonl(file)
    const battles: Array<Battle> = []
    for (const row of rows) {
      const decoded = decodeBattle(row.value)
      if (decoded._tag === "Failure") return yield* new InputError({ file, line: row.line, reason: "not a battle record" })
      battles.push(decoded.value)
    }
    return battles
  })

/** Whether a step input carries battles (dataset and augmenter steps do). */
export const isBattleInput = (input: StepInput): boolean => input.kind === "dataset" || input.kind === "augmenter"

/** All battles of the battle-carrying inputs of a step, concatenated in `needs` order. */
export const fromInputs = (inputs: ReadonlyArray<StepInput>) =>
  Effect.map(
    Effect.forEach(inputs.filter(isBattleInput), (input) => read(input.directory)),
    (lists) => lists.flat()
  )

export const stream = (battles: ReadonlyArray<Battle>) => Stream.fromIterable(battles)

/** All battles of a step's battle inputs (`context.ports.battles`), concatenated in `needs` order. */
export const readAll = (inputs: ReadonlyArray<Port.Received<typeof Port.battles>>) =>
  Effect.map(Effect.forEach(inputs, (input) => input.read), (lists) => lists.flat())
