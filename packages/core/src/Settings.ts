/**
 * Global settings read from the environment: where the cache and the local
 * datasets live.
 */
import { Context } from "effect"
import { homedir } from "node:os"
import * as Path from "node:path"

export interface SettingsShape {
  /** Root of the artifact store (content-addressed step outputs, embeddings, downloads). */
  readonly cacheDirectory: string
  /** Root of local datasets in the layout of ../shared/data, when set. */
  readonly dataDirectory: string | undefined
}

const fromEnvironment = (environment: NodeJS.ProcessEnv = process.env): SettingsShape => ({
  cacheDirectory: Path.resolve(
    environment.ROUTELLM_CACHE_DIR ??
      Path.join(environment.XDG_CACHE_HOME ?? Path.join(homedir(), ".cache"), "routellm")
  ),
  dataDirectory: environment.ROUTELLM_DATA_DIR === undefined || environment.ROUTELLM_DATA_DIR === ""
    ? undefined
    : Path.resolve(environment.ROUTELLM_DATA_DIR)
})

/** Settings as a reference: reads the environment unless a test or the CLI provides its own. */
export const Settings = Context.Reference<SettingsShape>("@routellm/core/Settings", {
  defaultValue: () => fromEnvironment()
})

export { fromEnvironment }
