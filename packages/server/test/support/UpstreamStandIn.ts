/**
 * A real OpenAI-compatible upstream on 127.0.0.1 for tests and the load
 * benchmark: POST /v1/chat/completions answers deterministically, streaming
 * (server-sent events, one token per event) or not, and can be told to fail,
 * hang, or stall mid-stream. It records every request and every connection a
 * client cancelled.
 */
import * as Http from "node:http"
import type { AddressInfo } from "node:net"

export interface Behaviour {
  /** Answer this many requests with `failStatus` before answering normally. */
  failTimes?: number
  failStatus?: number
  /** Retry-After header sent with those failures. */
  failRetryAfter?: string
  /** Always answer with this status and an OpenAI error body. */
  errorStatus?: number
  /** Put the request's Authorization header into the error message (as some providers do). */
  echoAuthorization?: boolean
  /** Never answer. */
  hang?: boolean
  /** Tokens in an answer (default 8). */
  tokens?: number
  /** Milliseconds between streamed events. */
  streamDelayMs?: number
  /** Send the first event, then wait until the client goes away. */
  stallAfterFirstEvent?: boolean
  /** Send the first event, then cut the connection. */
  breakAfterFirstEvent?: boolean
  /** Send every event but `data: [DONE]`, then end the response cleanly. */
  endWithoutDone?: boolean
}

export interface Received {
  readonly headers: Http.IncomingHttpHeaders
  readonly body: Record<string, unknown>
  /** performance.now() when the request arrived. */
  readonly at: number
}

export interface StandIn {
  readonly name: string
  /** Base URL including /v1. */
  readonly baseURL: string
  readonly behaviour: Behaviour
  readonly received: Array<Received>
  /** Requests whose client went away before the answer was complete. */
  readonly cancelled: () => number
  /** Resolves when the next cancellation is observed. */
  readonly nextCancel: () => Promise<void>
  readonly close: () => Promise<void>
}

/** The words an answer is made of: `<name>-t0 <name>-t1 ...`, so order and integrity are checkable. */
export const tokensOf = (name: string, count: number) => Array.from({ length: count }, (_, index) => `${index === 0 ? "" : " "}${name}-t${index}`)

const lastUserText = (body: Record<string, unknown>) => {
  const messages = Array.isArray(body.messages) ? body.messages as Array<{ role?: string; content?: unknown }> : []
  const users = messages.filter((message) => message.role === "user")
  const content = users[users.length - 1]?.content
  return typeof content === "string" ? content : ""
}

export const start = (name: string, behaviour: Behaviour = {}): Promise<StandIn> => {
  const received: Array<Received> = []
  let cancelled = 0
  let waiters: Array<() => void> = []
  const failuresLeft = () => behaviour.failTimes ?? 0
  let failed = 0
  const sockets = new Set<import("node:net").Socket>()

  const server = Http.createServer((request, response) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => {
      if (request.url !== "/v1/chat/completions" || request.method !== "POST") {
        response.writeHead(404, { "content-type": "application/json" })
        response.end(JSON.stringify({ error: { message: `no route ${request.url}`, type: "invalid_request_error" } }))
        return
      }
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>
      received.push({ headers: request.headers, body, at: performance.now() })
      response.on("close", () => {
        if (!response.writableFinished) {
          cancelled++
          const current = waiters
          waiters = []
          for (const wake of current) wake()
        }
      })
      if (behaviour.hang) return
      if (failed < failuresLeft()) {
        failed++
        const status = behaviour.failStatus ?? 503
        response.writeHead(status, {
          "content-type": "application/json",
          ...(behaviour.failRetryAfter === undefined ? {} : { "retry-after": behaviour.failRetryAfter })
        })
        response.end(JSON.stringify({ error: { message: `${name} is overloaded`, type: "server_error", code: null } }))
        return
      }
      if (behaviour.errorStatus !== undefined) {
        const detail = behaviour.echoAuthorization ? `: incorrect API key provided: ${request.headers.authorization ?? ""}` : ""
        response.writeHead(behaviour.errorStatus, { "content-type": "application/json" })
        response.end(JSON.stringify({
          error: { message: `${name} refused the request${detail}`, type: "invalid_request_error", param: null, code: "refused" }
        }))
        return
      }
      const model = String(body.model)
      const tokens = tokensOf(name, behaviour.tokens ?? 8)
      const created = 1_700_000_000
      const prompt = lastUserText(body)
      if (body.stream !== true) {
        response.writeHead(200, { "content-type": "application/json" })
        response.end(JSON.stringify({
          id: `chatcmpl-${name}`,
          object: "chat.completion",
          created,
          model,
          choices: [{ index: 0, message: { role: "assistant", content: tokens.join(""), refusal: null }, finish_reason: "stop", logprobs: null }],
          usage: { prompt_tokens: prompt.length, completion_tokens: tokens.length, total_tokens: prompt.length + tokens.length }
        }))
        return
      }
      response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" })
      // OpenAI's stream_options.include_usage: `usage: null` on every chunk, then a usage-only chunk.
      const streamOptions = body.stream_options as { include_usage?: boolean } | undefined
      const withUsage = streamOptions?.include_usage === true
      const event = (delta: Record<string, unknown>, finish: string | null) =>
        `data: ${
          JSON.stringify({
            id: `chatcmpl-${name}`,
            object: "chat.completion.chunk",
            created,
            model,
            choices: [{ index: 0, delta, finish_reason: finish }],
            ...(withUsage ? { usage: null } : {})
          })
        }\n\n`
      const usageEvent = `data: ${
        JSON.stringify({
          id: `chatcmpl-${name}`,
          object: "chat.completion.chunk",
          created,
          model,
          choices: [],
          usage: { prompt_tokens: prompt.length, completion_tokens: tokens.length, total_tokens: prompt.length + tokens.length }
        })
      }\n\n`
      const events = [
        event({ role: "assistant", content: "" }, null),
        ...tokens.map((token) => event({ content: token }, null)),
        event({}, "stop"),
        ...(withUsage ? [usageEvent] : []),
        ...(behaviour.endWithoutDone ? [] : ["data: [DONE]\n\n"])
      ]
      let index = 0
      const next = () => {
        if (response.destroyed) return
        if (index === events.length) {
          response.end()
          return
        }
        response.write(events[index++])
        if (index === 1 && behaviour.stallAfterFirstEvent) return
        if (index === 1 && behaviour.breakAfterFirstEvent) {
          setTimeout(() => response.socket?.destroy(), 5)
          return
        }
        if (behaviour.streamDelayMs) setTimeout(next, behaviour.streamDelayMs)
        else setImmediate(next)
      }
      next()
    })
  })
  server.on("connection", (socket) => {
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
  })
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resolve({
        name,
        baseURL: `http://127.0.0.1:${port}/v1`,
        behaviour,
        received,
        cancelled: () => cancelled,
        nextCancel: () => new Promise((wake) => waiters.push(wake)),
        close: () =>
          new Promise((done) => {
            for (const socket of sockets) socket.destroy()
            server.close(() => done())
          })
      })
    })
  })
}
