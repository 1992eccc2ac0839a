/**
 * @routellm/sweep: reproducible experiment sweeps over pipelines, on one
 * machine (worker processes) or on an Effect cluster with PostgreSQL storage.
 */
export * as CellRun from "./CellRun.ts"
export * as Cells from "./Cells.ts"
export * as Cluster from "./Cluster.ts"
export * as Local from "./Local.ts"
export * as Plan from "./Plan.ts"
export * as Results from "./Results.ts"
export * as Sweep from "./Sweep.ts"
export * as SweepFile from "./SweepFile.ts"
