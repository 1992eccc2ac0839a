/**
 * A local OpenAI-compatible stand-in: a real HTTP server on 127.0.0.1 that
 * answers POST /v1/chat/completions with whatever the test decides, and
 * records every request (model, messages, arrival time).
 */
import { Effect } from "effect"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"

export interface ChatRequest {
  readonly model: string
  readonly messages: ReadonlyArray<{ readonly role: string; readonly content: string }>
  readonly temperature?: number
  readonly max_tokens?: number
}

export interface Reply {
  readonly status?: number
  readonly content?: string
  readonly promptTokens?: number
  readonly completionTokens?: number
  readonly headers?: Readonly<Record<string, string>>
}

export interface Received {
  readonly request: ChatRequest
  readonly at: number
  readonly status: number
}

export interface StandIn {
  readonly baseUrl: string
  readonly received: Array<Received>
  /** Requests answered with 200, as `model\nlast user message` keys. */
  readonly succeeded: () => Array<string>
}

export const keyOf = (request: ChatRequest) => `${request.model}\n${request.messages.map((message) => `${message.role}:${message.content}`).join("\n")}`

/** Start a stand-in for the scope; `reply` decides each answer from the request and its arrival index. */
export const start = (reply: (request: ChatRequest, index: number) => Reply) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<{ server: Http.Server; standIn: StandIn }>((resolve) => {
        const received: Array<Received> = []
        const server = Http.createServer((request, response) => {
          const chunks: Array<Buffer> = []
          request.on("data", (chunk: Buffer) => chunks.push(chunk))
          request.on("end", () => {
            const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as ChatRequest
            const index = received.length
            const answer = reply(body, index)
            const status = answer.status ?? 200
            received.push({ request: body, at: performance.now(), status })
            const headers = { "content-type": "application/json", ...answer.headers }
            if (status !== 200) {
              response.writeHead(status, headers)
              response.end(JSON.stringify({ error: { message: `stand-in status ${status}`, type: "test" } }))
              return
            }
            response.writeHead(200, headers)
            response.end(JSON.stringify({
              id: `chatcmpl-${index}`,
              object: "chat.completion",
              created: 0,
              model: body.model,
              choices: [{ index: 0, finish_reason: "stop", message: { role: "assistant", content: answer.content ?? "" } }],
              usage: {
                prompt_tokens: answer.promptTokens ?? 10,
                completion_tokens: answer.completionTokens ?? 5,
                total_tokens: (answer.promptTokens ?? 10) + (answer.completionTokens ?? 5)
              }
            }))
          })
        })
        server.listen(0, "127.0.0.1", () => {
          const port = (server.address() as AddressInfo).port
          resolve({
            server,
            standIn: {
              baseUrl: `http://127.0.0.1:${port}/v1`,
              received,
              succeeded: () => received.filter((entry) => entry.status === 200).map((entry) => keyOf(entry.request))
            }
          })
        })
      })
    ),
    ({ server }) =>
      Effect.promise(() =>
        new Promise<void>((resolve) => {
          server.closeAllConnections()
          server.close(() => resolve())
        })
      )
  ).pipe(Effect.map(({ standIn }) => standIn))

/** The last user message of a request. */
export const lastUser = (request: ChatRequest): string => [...request.messages].reverse().find((message) => message.role === "user")?.content ?? ""
