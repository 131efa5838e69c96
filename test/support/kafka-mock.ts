/**
 * @module Test support: a Kafka cluster on loopback from librdkafka's mock cluster (test/fixtures/kafka-mock).
 *
 * The C fixture is compiled on first use into test/fixtures/bin/kafka-mock (git-ignored) and again whenever its source
 * is newer. Without librdkafka-dev the Kafka tests skip with a message, unless TESSERA_REQUIRE_SERVICES=1 (CI), where
 * they fail.
 */
import { type ChildProcessByStdio, execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { createInterface, type Interface } from 'node:readline'
import type { Readable, Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const SOURCE = join(ROOT, 'test', 'fixtures', 'kafka-mock', 'kafka-mock.c')
const BINARY = join(ROOT, 'test', 'fixtures', 'bin', 'kafka-mock')
const HEADER = '/usr/include/librdkafka/rdkafka_mock.h'
const INSTALL_HINT = 'apt-get install -y librdkafka-dev'
const START_TIMEOUT_MS = 10_000

export interface KafkaMockOptions {
  /** Topics to create up front, with their partition counts, e.g. `{ 'events.raw': 4 }`. */
  readonly topics?: Readonly<Record<string, number>>
  /** Number of brokers (default 3). */
  readonly brokers?: number
}

export interface KafkaMock {
  /** Bootstrap servers, `127.0.0.1:port`. */
  readonly brokers: string[]
  /** Broker ids are 1..n. */
  readonly brokerIds: number[]
  /** Creates a topic (the mock does not implement the CreateTopics API). */
  createTopic(topic: string, partitions: number): Promise<void>
  /** Disconnects a broker and refuses new connections until {@link KafkaMock.setBrokerUp}. */
  setBrokerDown(id: number): Promise<void>
  setBrokerUp(id: number): Promise<void>
  /** Ends the process (closing stdin makes it exit cleanly). Idempotent. */
  stop(): Promise<void>
}

export type KafkaMockSupport = { readonly ok: true } | { readonly ok: false; readonly reason: string }

/** Whether the mock can be built here; builds it when missing or older than its source. */
export function kafkaMockSupport(): KafkaMockSupport {
  if (!existsSync(HEADER)) {
    return { ok: false, reason: `librdkafka-dev is not installed (${HEADER} is missing): run \`${INSTALL_HINT}\`` }
  }
  try {
    buildKafkaMock()
    return { ok: true }
  } catch (error) {
    return { ok: false, reason: `building the Kafka mock failed: ${error instanceof Error ? error.message : String(error)}` }
  }
}

/**
 * For a test file's top level: true when the Kafka tests must be skipped (a warning says why). Throws instead when
 * TESSERA_REQUIRE_SERVICES=1, so that CI never passes by skipping.
 */
export function skipWithoutKafkaMock(): boolean {
  const support = kafkaMockSupport()
  if (support.ok) return false
  if (process.env.TESSERA_REQUIRE_SERVICES === '1') {
    throw new Error(`Kafka tests cannot run and TESSERA_REQUIRE_SERVICES=1: ${support.reason}`)
  }
  console.warn(`Skipping the Kafka tests: ${support.reason}`)
  return true
}

function buildKafkaMock(): void {
  if (existsSync(BINARY) && statSync(BINARY).mtimeMs >= statSync(SOURCE).mtimeMs) return
  mkdirSync(dirname(BINARY), { recursive: true })
  // Build beside the target and rename, so that concurrent test workers never run a half-written binary.
  const temporary = `${BINARY}.${process.pid}.tmp`
  execFileSync('cc', ['-O2', '-Wall', '-o', temporary, SOURCE, '-lrdkafka'], { stdio: ['ignore', 'ignore', 'pipe'] })
  renameSync(temporary, BINARY)
}

/**
 * Starts a mock cluster.
 * @example
 * const kafka = await startKafkaMock({ topics: { 'events.raw': 4 } })
 * try { ... kafka.brokers ... } finally { await kafka.stop() }
 */
export async function startKafkaMock(options: KafkaMockOptions = {}): Promise<KafkaMock> {
  buildKafkaMock()
  const count = options.brokers ?? 3
  const specs = Object.entries(options.topics ?? {}).map(([topic, partitions]) => `${topic}:${partitions}`)
  const child = spawn(BINARY, ['--brokers', String(count), ...specs], { stdio: ['pipe', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const lines = createInterface({ input: child.stdout })
  const reader = new LineReader(lines)
  let timer: NodeJS.Timeout | undefined
  const first = await Promise.race([
    reader.next(),
    exited.then((code) => {
      throw new Error(`kafka-mock exited with ${code} before starting: ${stderr.trim()}`)
    }),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`kafka-mock did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS)
    }),
  ]).finally(() => clearTimeout(timer)).catch((error: unknown) => {
    child.kill('SIGTERM')
    throw error
  })
  const match = /^bootstraps (\S+)$/.exec(first)
  if (!match) {
    child.kill('SIGTERM')
    throw new Error(`kafka-mock printed an unexpected first line: ${first}`)
  }
  return new MockHandle(child, reader, match[1]!.split(','), count, exited)
}

class LineReader {
  readonly #buffered: string[] = []
  readonly #waiting: ((line: string) => void)[] = []

  constructor(lines: Interface) {
    lines.on('line', (line) => {
      const waiter = this.#waiting.shift()
      if (waiter) waiter(line)
      else this.#buffered.push(line)
    })
  }

  next(): Promise<string> {
    const line = this.#buffered.shift()
    if (line !== undefined) return Promise.resolve(line)
    return new Promise((resolve) => this.#waiting.push(resolve))
  }
}

class MockHandle implements KafkaMock {
  readonly brokers: string[]
  readonly brokerIds: number[]
  readonly #child: ChildProcessByStdio<Writable, Readable, Readable>
  readonly #reader: LineReader
  readonly #exited: Promise<number | null>
  #commands: Promise<unknown> = Promise.resolve()
  #stopped = false

  constructor(child: ChildProcessByStdio<Writable, Readable, Readable>, reader: LineReader, brokers: string[],
    count: number, exited: Promise<number | null>) {
    this.#child = child
    this.#reader = reader
    this.brokers = brokers
    this.brokerIds = Array.from({ length: count }, (_, i) => i + 1)
    this.#exited = exited
  }

  createTopic(topic: string, partitions: number): Promise<void> {
    return this.#command(`topic ${topic} ${partitions}`)
  }

  setBrokerDown(id: number): Promise<void> {
    return this.#command(`down ${id}`)
  }

  setBrokerUp(id: number): Promise<void> {
    return this.#command(`up ${id}`)
  }

  async stop(): Promise<void> {
    if (!this.#stopped) {
      this.#stopped = true
      this.#child.stdin.end()
      const timer = setTimeout(() => this.#child.kill('SIGKILL'), 5_000)
      await this.#exited
      clearTimeout(timer)
    }
    await this.#exited
  }

  /** Commands are answered in order with one line each, so they are sent one at a time. */
  #command(line: string): Promise<void> {
    const run = this.#commands.then(async () => {
      if (this.#stopped) throw new Error(`kafka-mock is stopped; cannot run "${line}"`)
      this.#child.stdin.write(`${line}\n`)
      const answer = await this.#reader.next()
      if (!answer.startsWith('ok')) throw new Error(`kafka-mock: "${line}" failed: ${answer}`)
    })
    this.#commands = run.catch(() => undefined)
    return run
  }
}
