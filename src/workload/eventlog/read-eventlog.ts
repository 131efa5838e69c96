/**
 * @module Reads Spark event logs from disk: a single file (plain or compressed, `.inprogress` too), a rolling
 * log folder (`eventlog_v2_<appId>/events_<N>_<appId>[.codec]`, Spark 3.0+), or a folder holding any number of
 * both. Bytes are decompressed and split into lines chunk by chunk; a broken stream or a bad line becomes a
 * problem with its line number, and the application read up to there is kept.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { basename, join } from 'node:path'
import { TesseraError } from '../../core/errors.js'
import { CodecError, decompress, detectCodec, initCodecs } from './codecs.js'
import { EventLogAccumulator } from './parse-eventlog.js'
import type { SparkApp } from './spark-app.js'

/** One application read from disk, with where it came from. */
export interface ReadLog {
  readonly source: string
  readonly app: SparkApp
}

/** Splits decompressed chunks into lines for the accumulator, across chunk boundaries. */
class LineFeeder {
  readonly #acc: EventLogAccumulator
  readonly #decoder = new TextDecoder('utf-8')
  #partial = ''
  #line = 0

  constructor(acc: EventLogAccumulator) {
    this.#acc = acc
  }

  get line(): number {
    return this.#line
  }

  push(chunk: Uint8Array): void {
    const text = this.#partial + this.#decoder.decode(chunk, { stream: true })
    let start = 0
    for (;;) {
      const nl = text.indexOf('\n', start)
      if (nl < 0) break
      this.#line++
      this.#acc.push(text.slice(start, nl), this.#line)
      start = nl + 1
    }
    this.#partial = text.slice(start)
  }

  /** The last line (often cut short in a log in progress). */
  end(): void {
    const rest = this.#partial + this.#decoder.decode()
    this.#partial = ''
    if (rest.trim() !== '') {
      this.#line++
      this.#acc.push(rest, this.#line)
    }
  }
}

/** Feeds one file (any codec) into the accumulator. */
export function feedBytes(acc: EventLogAccumulator, data: Uint8Array, fileName: string): void {
  acc.file = fileName
  const feeder = new LineFeeder(acc)
  const codec = detectCodec(data.subarray(0, 16), fileName)
  try {
    decompress(codec, data, (chunk) => feeder.push(chunk))
  } catch (error) {
    if (!(error instanceof CodecError)) throw error
    feeder.end()
    acc.problem(feeder.line + 1, `${error.message}; the lines before it were read`)
    return
  }
  feeder.end()
}

/** Parses one in-memory event log (an upload through the admin API). */
export async function parseEventLogBytes(data: Uint8Array, fileName = 'upload'): Promise<SparkApp> {
  await initCodecs()
  const acc = new EventLogAccumulator(fileName)
  feedBytes(acc, data, fileName)
  return acc.finish()
}

const ROLLING_DIR = /^eventlog_v2_/
const ROLLING_PART = /^events_(\d+)_/

function readRollingDir(dir: string): SparkApp {
  const parts = readdirSync(dir)
    .map((name) => ({ name, n: ROLLING_PART.exec(name)?.[1] }))
    .filter((p): p is { name: string; n: string } => p.n !== undefined)
    .sort((a, b) => Number(a.n) - Number(b.n))
  if (parts.length === 0) {
    throw new TesseraError('TESSERA_VALIDATION', `${dir} is a rolling event log folder without events_<N>_<appId> files`)
  }
  const acc = new EventLogAccumulator(dir)
  for (const p of parts) feedBytes(acc, readFileSync(join(dir, p.name)), p.name)
  return acc.finish()
}

function isLogFile(name: string): boolean {
  return !name.startsWith('.') && !/\.(crc|md|txt|csv|tsv|json)$/i.test(name) && !name.startsWith('appstatus_')
}

/**
 * Reads every application under `path`. Throws TESSERA_VALIDATION for a path that does not exist; a folder
 * with no event logs gives an empty list.
 */
export async function readEventLogs(path: string): Promise<ReadLog[]> {
  await initCodecs()
  return readSync(path)
}

function readSync(path: string): ReadLog[] {
  let stat
  try {
    stat = statSync(path)
  } catch {
    throw new TesseraError('TESSERA_VALIDATION', `${path}: no such file or folder (give an event log file, an eventlog_v2_* folder, or a folder of logs)`)
  }
  if (stat.isFile()) {
    const acc = new EventLogAccumulator(path)
    feedBytes(acc, readFileSync(path), basename(path))
    return [{ source: path, app: acc.finish() }]
  }
  if (ROLLING_DIR.test(basename(path))) return [{ source: path, app: readRollingDir(path) }]
  const out: ReadLog[] = []
  for (const name of readdirSync(path).sort()) {
    const full = join(path, name)
    const s = statSync(full)
    if (s.isDirectory()) {
      if (ROLLING_DIR.test(name)) out.push({ source: full, app: readRollingDir(full) })
      else out.push(...readSync(full))
    } else if (s.isFile() && isLogFile(name)) {
      const acc = new EventLogAccumulator(full)
      feedBytes(acc, readFileSync(full), name)
      out.push({ source: full, app: acc.finish() })
    }
  }
  return out
}
