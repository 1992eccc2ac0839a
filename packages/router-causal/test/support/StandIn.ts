/**
 * A local stand-in for an OpenAI-compatible server on 127.0.0.1: chat and
 * legacy completions with logprobs, file upload and fine-tuning jobs. Replies
 * are chosen by markers in the prompt, so tests know the exact distributions.
 */
import { Effect } from "effect"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"

export interface Recorded {
  readonly method: string
  readonly path: string
  readonly body: string
}

/** Log-probabilities the default chat reply gives; [[2]] is absent from the top-k. */
export const chatTop = [
  { token: "[[5]]", logprob: -0.2 },
  { token: "[[4]]", logprob: -1.9 },
  { token: "Sure", logprob: -2.5 },
  { token: "[[3]]", logprob: -3.0 },
  { token: "[[1]]", logprob: -5.0 }
]

const entry = (token: string, logprob: number) => ({ token, logprob, bytes: null })

const chatReply = (content: string) => {
  let positions: Array<{ token: string; logprob: number; top: Array<{ token: string; logprob: number }> }>
  if (content.includes("NO-SCORES")) {
    positions = [{ token: "I", logprob: -0.1, top: [{ token: "I", logprob: -0.1 }, { token: "The", logprob: -2.4 }] }]
  } else if (content.includes("SECOND")) {
    // The score appears only at the second generated position ("[[" then the digit token).
    positions = [
      { token: "[[", logprob: -0.01, top: [{ token: "[[", logprob: -0.01 }] },
      { token: "[[2]]", logprob: -0.7, top: [{ token: "[[2]]", logprob: -0.7 }, { token: " [[4]]", logprob: -0.7 }] }
    ]
  } else {
    positions = [{ token: chatTop[0]!.token, logprob: chatTop[0]!.logprob, top: chatTop }]
  }
  return positions.map((position) => ({ ...entry(position.token, position.logprob), top_logprobs: position.top.map((top) => entry(top.token, top.logprob)) }))
}

export interface StandIn {
  readonly baseUrl: string
  readonly requests: Array<Recorded>
}

export const start = Effect.acquireRelease(
  Effect.promise(() =>
    new Promise<{ server: Http.Server; standIn: StandIn }>((resolve) => {
      const requests: Array<Recorded> = []
      const polls = new Map<string, number>()
      const jobs = new Map<string, { model: string; training_file: string; validation_file: string | null; suffix: string | null }>()
      const server = Http.createServer((request, response) => {
        const chunks: Array<Buffer> = []
        request.on("data", (chunk) => chunks.push(chunk))
        request.on("end", () => {
          const body = Buffer.concat(chunks).toString("utf8")
          const path = (request.url ?? "").replace(/\?.*$/, "")
          requests.push({ method: request.method ?? "", path, body })
          const json = (status: number, value: unknown) => {
            response.writeHead(status, { "content-type": "application/json" })
            response.end(JSON.stringify(value))
          }
          const created = Math.floor(Date.now() / 1000)
          if (request.method === "POST" && path === "/v1/chat/completions") {
            const parsed = JSON.parse(body)
            const user = parsed.messages.find((message: { role: string }) => message.role === "user")?.content ?? ""
            if (user.includes("SERVER-ERROR")) return json(500, { error: { message: "boom", type: "server_error" } })
            const content = chatReply(user).slice(0, parsed.max_tokens ?? 1)
            return json(200, {
              id: "chatcmpl-1",
              object: "chat.completion",
              created,
              model: parsed.model,
              choices: [{
                index: 0,
                finish_reason: "length",
                message: { role: "assistant", content: content.map((position) => position.token).join("") },
                logprobs: { content }
              }]
            })
          }
          if (request.method === "POST" && path === "/v1/completions") {
            const parsed = JSON.parse(body)
            return json(200, {
              id: "cmpl-1",
              object: "text_completion",
              created,
              model: parsed.model,
              choices: [{
                index: 0,
                finish_reason: "length",
                text: "[[2]]",
                logprobs: { tokens: ["[[2]]"], token_logprobs: [-0.5], top_logprobs: [{ "[[2]]": -0.5, "[[4]]": -1.0, " [[4]]": -2.0 }], text_offset: [0] }
              }]
            })
          }
          if (request.method === "POST" && path === "/v1/files") {
            const name = /filename="([^"]+)"/.exec(body)?.[1] ?? "file"
            const lines = body.split("\n").filter((line) => line.startsWith("{\"messages\"")).length
            return json(200, {
              id: `file-${name}-${lines}`,
              object: "file",
              bytes: body.length,
              created_at: created,
              filename: name,
              purpose: "fine-tune",
              status: "processed"
            })
          }
          if (request.method === "POST" && path === "/v1/fine_tuning/jobs") {
            const parsed = JSON.parse(body)
            const jobId = `ftjob-${jobs.size + 1}`
            jobs.set(jobId, {
              model: parsed.model,
              training_file: parsed.training_file,
              validation_file: parsed.validation_file ?? null,
              suffix: parsed.suffix ?? null
            })
            return json(200, job(jobId, jobs.get(jobId)!, "validating_files", created))
          }
          const match = /^\/v1\/fine_tuning\/jobs\/([^/]+)$/.exec(path)
          if (request.method === "GET" && match !== null && jobs.has(match[1]!)) {
            const jobId = match[1]!
            const count = (polls.get(jobId) ?? 0) + 1
            polls.set(jobId, count)
            const spec = jobs.get(jobId)!
            const status = count < 3 ? "running" : spec.model === "fail-me" ? "failed" : "succeeded"
            return json(200, job(jobId, spec, status, created))
          }
          json(404, { error: { message: `no route ${request.method} ${path}` } })
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const port = (server.address() as AddressInfo).port
        resolve({ server, standIn: { baseUrl: `http://127.0.0.1:${port}/v1`, requests } })
      })
    })
  ),
  ({ server }) => Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve())))
).pipe(Effect.map(({ standIn }) => standIn))

const job = (
  id: string,
  spec: { model: string; training_file: string; validation_file: string | null; suffix: string | null },
  status: string,
  created: number
) => ({
  id,
  object: "fine_tuning.job",
  created_at: created,
  model: spec.model,
  training_file: spec.training_file,
  validation_file: spec.validation_file,
  status,
  fine_tuned_model: status === "succeeded" ? `ft:${spec.model}:${spec.suffix ?? "custom"}:abc123` : null,
  finished_at: status === "succeeded" || status === "failed" ? created : null,
  error: status === "failed" ? { code: "invalid_training_file", message: "bad data", param: null } : null,
  trained_tokens: status === "succeeded" ? 4321 : null,
  hyperparameters: { n_epochs: "auto" },
  organization_id: "org-test",
  result_files: [],
  seed: 0
})
