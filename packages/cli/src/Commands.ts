/** The subcommands, one module each; later packages add theirs here. */
import * as Calibrate from "./commands/Calibrate.ts"
import * as Eval from "./commands/Eval.ts"
import * as Plugins from "./commands/Plugins.ts"
import * as Route from "./commands/Route.ts"
import * as Run from "./commands/Run.ts"
import * as Schema from "./commands/Schema.ts"
import * as Serve from "./commands/Serve.ts"
import * as Sweep from "./commands/Sweep.ts"
import * as Validate from "./commands/Validate.ts"

export const commands = [
  Run.command,
  Validate.command,
  Plugins.command,
  Schema.command,
  Route.command,
  Eval.command,
  Calibrate.command,
  Serve.command,
  Sweep.sweepCommand,
  Sweep.runnerCommand
] as const
