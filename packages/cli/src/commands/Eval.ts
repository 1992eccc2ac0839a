/** `routellm eval`: its flags and help; the work is in ../handlers/Eval.ts, loaded when it runs. */
import { Effect } from "effect"
import { Command, Flag } from "effect/cli"

export const flags = {
  benchmark: Flag.String("benchmark").pipe(
    Flag.withDescription("Benchmark plugin: mt-bench, mmlu, gsm8k, outcomes (or any benchmark/<id>)")
  ),
  router: Flag.String("router").pipe(
    Flag.withDescription("Router plugin id (oracle, sw, router/mf, ...); repeat for several; the baselines need not be listed"),
    Flag.atLeast(0)
  ),
  baseline: Flag.String("baseline").pipe(
    Flag.withDescription("Baseline router shown beside the listed ones; repeatable; replaces the default random and length"),
    Flag.atLeast(0)
  ),
  baselines: Flag.Boolean("baselines").pipe(
    Flag.withDescription("Show the baselines (router/random, router/length) beside the listed routers; --no-baselines shows only those listed"),
    Flag.withDefault(true)
  ),
  config: Flag.String("config").pipe(
    Flag.withDescription("YAML/JSON router config: one router's config, or configs keyed by router name"),
    Flag.optional
  ),
  benchmarkConfig: Flag.String("benchmark-config").pipe(
    Flag.withDescription("YAML/JSON config of the benchmark (e.g. outcomes: { file, strong, weak })"),
    Flag.optional
  ),
  dataDirectory: Flag.String("data-dir").pipe(
    Flag.withDescription("Root of the local data (the layout of ../shared/data); overrides ROUTELLM_DATA_DIR"),
    Flag.optional
  ),
  strong: Flag.String("strong").pipe(Flag.withDescription("Strong model (default gpt-4-1106-preview)"), Flag.optional),
  weak: Flag.String("weak").pipe(Flag.withDescription("Weak model (default mixtral-8x7b-instruct-v0.1)"), Flag.optional),
  bins: Flag.Int("bins").pipe(Flag.withDescription("Threshold quantile bins (RouteLLM --num-results)"), Flag.withDefault(10)),
  seeds: Flag.Int("seeds").pipe(
    Flag.withDescription("Seeds a random router is averaged over (default 10, more on small benchmarks: seeds x prompts >= 10,000)"),
    Flag.optional
  ),
  json: Flag.String("json").pipe(Flag.withDescription("Write the report as JSON here"), Flag.optional),
  markdown: Flag.String("markdown").pipe(Flag.withDescription("Write a Markdown report here"), Flag.optional),
  plot: Flag.String("plot").pipe(
    Flag.withDescription("Write the figure here (.svg or .png); repeatable"),
    Flag.atLeast(0)
  ),
  crossfit: Flag.Int("crossfit").pipe(
    Flag.withDescription("Cross-fit trainable routers: K folds by prompt, each scored by a router trained on the other folds' golden labels"),
    Flag.optional
  ),
  crossfitSeed: Flag.Int("crossfit-seed").pipe(Flag.withDescription("Seed of the fold split"), Flag.withDefault(0)),
  trainBattles: Flag.String("train-battles").pipe(
    Flag.withDescription("With --crossfit: extra training battles (battles.jsonl or its directory); repeatable"),
    Flag.atLeast(0)
  )
}

export type Flags = Command.Command.Config.Infer<typeof flags>

export const command = Command.make(
  "eval",
  flags,
  (input) => Effect.flatMap(Effect.promise(() => import("../handlers/Eval.ts")), (handler) => handler.handle(input))
).pipe(
  Command.withDescription("Evaluate routers on a benchmark with RouteLLM's metrics (CPT, APGR) and write JSON, Markdown and plots"),
  Command.withExamples([
    {
      command: "routellm eval --benchmark mmlu --router oracle --data-dir ../shared/data --json out.json --plot mmlu.png",
      description: "The oracle on MMLU, beside the random and length baselines"
    },
    {
      command: "routellm eval --benchmark mt-bench --router length --no-baselines --data-dir ../shared/data",
      description: "Only the prompt-length router"
    }
  ])
)
