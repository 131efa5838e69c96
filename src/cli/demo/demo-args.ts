/** @module Command line of `tessera demo`: options, defaults, and the usage text shown on mistakes. */
import { randomInt } from 'node:crypto'
import { parseArgs } from 'node:util'
import { MIN_PEOPLE } from './journeys.js'

export const MAX_PEOPLE = 100_000

export const DEMO_USAGE = `Usage: tessera demo [options]

Sends realistic customer journeys to a running Tessera (start it with \`tessera up\`): anonymous web
browsing with campaign links, sign-ups, a mobile app on a second device, CRM records keyed by
e-mail, IoT devices paired from the app, purchases, and the edge cases a CDP must handle (a shared
family computer, placeholder ids such as test@test.com, retried messageIds, a phone 2 h fast).
Each source sends with its own write key. Then it waits for the pipeline and shows unified profiles.

Options:
  --people <n>        people to simulate (default 200, ${MIN_PEOPLE} to ${MAX_PEOPLE.toLocaleString('en-US')})
  --seed <text>       seed of the generator: the same seed and --people send the same data again
                      (which the server then drops as duplicates); default: a random one, printed
  --url <url>         server (default http://127.0.0.1:$TESSERA_PORT or :3000)
  --data-dir <dir>    where credentials.json is ($TESSERA_DATA_DIR or ./data)
  --timeout <s>       longest wait for the pipeline to process the events (default 120)
  -h, --help          show this text

Exit status: 0 done, 2 done with problems (rejected events, pipeline not done in time, an
edge-case check failed, no admin token), 1 could not run (bad options, server unreachable).`

export interface DemoArgs {
  readonly people: number
  readonly seed: string
  /** True when the seed was chosen at random (it is printed so the run can be repeated). */
  readonly randomSeed: boolean
  readonly url: string | undefined
  readonly dataDir: string | undefined
  readonly timeoutSeconds: number
}

export type ParsedDemoArgs =
  | { readonly kind: 'run'; readonly args: DemoArgs }
  | { readonly kind: 'help' }
  | { readonly kind: 'error'; readonly message: string }

function integer(name: string, text: string, min: number, max: number): number | string {
  const n = Number(text)
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    return `${name} must be a whole number from ${min.toLocaleString('en-US')} to ${max.toLocaleString('en-US')}, got ${JSON.stringify(text)}`
  }
  return n
}

/** Parses the arguments after `demo`; a mistake is a value with the message to show above the usage. */
export function parseDemoArgs(argv: readonly string[]): ParsedDemoArgs {
  let values
  try {
    values = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        people: { type: 'string' },
        seed: { type: 'string' },
        url: { type: 'string' },
        'data-dir': { type: 'string' },
        timeout: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values
  } catch (error) {
    // parseArgs says exactly what is wrong (unknown option, missing value, stray argument).
    return { kind: 'error', message: (error as Error).message }
  }
  if (values.help) return { kind: 'help' }
  const people = integer('--people', values.people ?? '200', MIN_PEOPLE, MAX_PEOPLE)
  if (typeof people === 'string') return { kind: 'error', message: people }
  const timeout = integer('--timeout', values.timeout ?? '120', 1, 3600)
  if (typeof timeout === 'string') return { kind: 'error', message: timeout }
  if (values.seed !== undefined && values.seed.trim() === '') return { kind: 'error', message: '--seed must not be empty' }
  return {
    kind: 'run',
    args: {
      people,
      seed: values.seed ?? String(randomInt(1, 1_000_000)),
      randomSeed: values.seed === undefined,
      url: values.url,
      dataDir: values['data-dir'],
      timeoutSeconds: timeout,
    },
  }
}
