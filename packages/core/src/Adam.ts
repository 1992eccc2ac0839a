/**
 * Adam with L2 weight decay added to the gradient, as torch.optim.Adam(weight_decay=...):
 *
 *   g = gradient·scale + decay·value
 *   m = β1·m + (1 − β1)·g,  v = β2·v + (1 − β2)·g·g
 *   value −= lr·(m / (1 − β1^t)) / (sqrt(v / (1 − β2^t)) + ε)
 *
 * The one optimiser of the routers that train in typed arrays (router-mf,
 * router-bert's head). `make` keeps float64 moments in JavaScript; `float32`
 * runs the update with float32 state (as torch keeps it) and torch's order of
 * operations through Simd's vectorised kernel, over parameters, gradients and
 * moments laid out in one Simd arena.
 */
import * as Simd from "./Simd.ts"

export interface Options {
  readonly learningRate: number
  readonly beta1?: number
  readonly beta2?: number
  readonly epsilon?: number
}

export interface Group {
  readonly values: Float32Array | Float64Array
  readonly gradients: Float32Array | Float64Array
  readonly weightDecay: number
}

export interface Optimizer {
  /** One update from the groups' current gradients, each multiplied by `gradientScale` first. */
  readonly step: (gradientScale?: number) => void
  /** Updates made so far. */
  readonly steps: () => number
}

const settings = (options: Options) => ({
  learningRate: options.learningRate,
  beta1: options.beta1 ?? 0.9,
  beta2: options.beta2 ?? 0.999,
  epsilon: options.epsilon ?? 1e-8
})

/** Adam over float32 or float64 parameter groups, moments in float64. */
export const make = (groups: ReadonlyArray<Group>, options: Options): Optimizer => {
  const { beta1, beta2, epsilon, learningRate } = settings(options)
  const moments = groups.map((group) => {
    if (group.gradients.length !== group.values.length) {
      throw new RangeError(`Adam: a group has ${group.values.length} values and ${group.gradients.length} gradients`)
    }
    return { first: new Float64Array(group.values.length), second: new Float64Array(group.values.length) }
  })
  let count = 0
  return {
    steps: () => count,
    step: (gradientScale = 1) => {
      count++
      const correction1 = 1 - Math.pow(beta1, count)
      const correction2 = 1 - Math.pow(beta2, count)
      for (let index = 0; index < groups.length; index++) {
        const { values, gradients, weightDecay } = groups[index]!
        const { first, second } = moments[index]!
        for (let i = 0; i < values.length; i++) {
          const value = values[i]!
          const scaled = gradients[i]! * gradientScale
          const g = weightDecay === 0 ? scaled : scaled + weightDecay * value
          const m = first[i] = beta1 * first[i]! + (1 - beta1) * g
          const v = second[i] = beta2 * second[i]! + (1 - beta2) * g * g
          values[i] = value - learningRate * (m / correction1) / (Math.sqrt(v / correction2) + epsilon)
        }
      }
    }
  }
}

export interface Float32Block {
  /** Equal lengths, a multiple of 4, views of the arena the kernels run on. */
  readonly values: Float32Array
  readonly gradients: Float32Array
  readonly first: Float32Array
  readonly second: Float32Array
}

/** The update in float32 over one block (one weight decay), vectorised by Simd. */
export const float32 = (block: Float32Block, weightDecay: number, options: Options, kernels: Simd.Kernels): Optimizer => {
  const { beta1, beta2, epsilon, learningRate } = settings(options)
  let count = 0
  return {
    steps: () => count,
    step: (gradientScale = 1) => {
      count++
      kernels.adam(block.values, block.gradients, block.first, block.second, {
        gradientScale,
        weightDecay,
        beta1,
        beta2,
        correction1: 1 - Math.pow(beta1, count),
        correction2: 1 - Math.pow(beta2, count),
        learningRate,
        epsilon
      })
    }
  }
}
