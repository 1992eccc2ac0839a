/**
 * Every plugin the CLI ships, registered statically. Third-party plugins are
 * loaded by package name from a pipeline's `plugins:` list.
 */
import * as Augment from "@routellm/augment"
import * as Benchmarks from "@routellm/benchmarks"
import { LengthRouter, type Plugin, RandomRouter } from "@routellm/core"
import * as Datasets from "@routellm/datasets"
import * as Embedders from "@routellm/embedders"
import * as RouterBert from "@routellm/router-bert"
import * as RouterCausal from "@routellm/router-causal"
import * as RouterMf from "@routellm/router-mf"
import * as RouterSw from "@routellm/router-sw"
import * as Server from "@routellm/server"

export const plugins: ReadonlyArray<Plugin.Any> = [
  RandomRouter.plugin,
  LengthRouter.plugin,
  ...Embedders.plugins,
  ...Datasets.plugins,
  ...Benchmarks.plugins,
  ...RouterSw.plugins,
  ...RouterMf.plugins,
  ...RouterBert.plugins,
  ...RouterCausal.plugins,
  ...Augment.plugins,
  ...Server.plugins
]
