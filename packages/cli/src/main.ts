#!/usr/bin/env node
/**
 * The `routellm` command line.
 */
import { Effect, Layer } from "effect"
import { Command } from "effect/cli"
import { layer } from "./Cli.ts"
import { commands } from "./Commands.ts"
import * as NodePlatform from "./internal/NodePlatform.ts"

const root = Command.make("routellm").pipe(
  Command.withDescription("Route LLM queries between strong and weak models: train, evaluate, calibrate and serve routers"),
  Command.withSubcommands(commands)
)

root.pipe(
  Command.run({ version: "0.1.0" }),
  Effect.provide(Layer.mergeAll(NodePlatform.layer, layer)),
  NodePlatform.runMain
)
