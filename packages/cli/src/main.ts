#!/usr/bin/env node
/**
 * The `routellm` command line. Start-up loads only the command definitions:
 * each command imports its handler, the plugin registry and native modules
 * when it runs (see scripts/bundle.mjs for how the shipped binary is built).
 */
import { PackageImport } from "@routellm/core/PluginRegistry"
import { Effect, Layer } from "effect"
import { Command } from "effect/cli"
import { commands } from "./Commands.ts"
import * as NodePlatform from "./internal/NodePlatform.ts"
import * as Output from "./internal/Output.ts"
import * as PluginHost from "./internal/PluginHost.ts"

const root = Command.make("routellm").pipe(
  Command.withDescription("Route LLM queries between strong and weak models: train, evaluate, calibrate and serve routers"),
  Command.withSubcommands(commands)
)

const names = commands.map((command) => command.name)

// Spans go to an OTLP collector only when asked; the exporter is not even loaded otherwise.
const otlpUrl = process.env.ROUTELLM_OTLP_URL
const telemetry = otlpUrl === undefined || otlpUrl === ""
  ? Layer.empty
  : Layer.unwrap(Effect.promise(() => import("./internal/Telemetry.ts")).pipe(Effect.map((Telemetry) => Telemetry.layer(otlpUrl, "0.1.0"))))
const unknown = Output.unknownCommand(process.argv.slice(2), names)

if (unknown !== undefined) {
  process.stderr.write(`${Output.unknownCommandMessage(unknown, names)}\n`)
  process.exitCode = 1
} else {
  root.pipe(
    Command.run({ version: "0.1.0" }),
    Effect.provide(Layer.mergeAll(NodePlatform.layer, Output.presenter, telemetry)),
    Effect.provideService(PackageImport, PluginHost.importPackage),
    NodePlatform.runMain
  )
}
