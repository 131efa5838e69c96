/** @module Time source, injectable so that tests can fix "now". */
export interface Clock {
  now(): number
}
export const systemClock: Clock = { now: () => Date.now() }
