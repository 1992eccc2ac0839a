/**
 * The version of the plugin contract. A plugin declares the contract version
 * it was written for (`Plugin.router(...)` and the other constructors fill it
 * in); a registry runs plugins whose contract has the same major version and
 * a minor version no higher than its own, and refuses the rest, naming both.
 */
import { Effect } from "effect"
import { ContractVersionError } from "./Errors.ts"

/** The plugin contract this @routellm/core implements. */
export const version = "1.0.0"

const parse = (text: string): readonly [number, number, number] | undefined => {
  const match = /^(\d+)\.(\d+)\.(\d+)$/.exec(text)
  return match === null ? undefined : [Number(match[1]), Number(match[2]), Number(match[3])]
}

/** Whether something written for contract `declared` runs on contract `supported`. */
export const isCompatible = (declared: string, supported: string = version): boolean => {
  const wanted = parse(declared)
  const offered = parse(supported)
  if (wanted === undefined || offered === undefined) return false
  return wanted[0] === offered[0] && wanted[1] <= offered[1]
}

/** Succeed when `declared` is compatible, else fail naming the subject and both versions. */
export const check = (subject: string, declared: unknown): Effect.Effect<void, ContractVersionError> =>
  typeof declared === "string" && isCompatible(declared)
    ? Effect.void
    : Effect.fail(
      new ContractVersionError({ subject, supported: version, ...(typeof declared === "string" ? { declared } : {}) })
    )
