/**
 * @module Splits streamed JSONL text into numbered lines (LF or CRLF, a leading BOM dropped) and parses each into
 * an object, reporting lines that are not JSON objects.
 */
import type { JsonObject } from '../../core/event.js'

export interface TextLine {
  readonly text: string
  /** 1-based. */
  readonly line: number
  /** Set when the line was too long to keep; `text` is then empty. */
  readonly problem?: string
}

/** Incremental line splitter; lines longer than `maxLineChars` (default 1 M) are reported, not buffered. */
export class LineSplitter {
  readonly #maxLineChars: number
  #partial = ''
  #line = 1
  #started = false
  #overlong = false

  constructor(maxLineChars = 1024 * 1024) {
    this.#maxLineChars = maxLineChars
  }

  push(text: string): TextLine[] {
    if (!this.#started && text.length > 0) {
      this.#started = true
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
    }
    const out: TextLine[] = []
    let start = 0
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      this.#take(text.slice(start, nl), out, true)
      start = nl + 1
    }
    this.#take(text.slice(start), out, false)
    return out
  }

  end(): TextLine[] {
    const out: TextLine[] = []
    if (this.#partial !== '' || this.#overlong) this.#finish(out)
    return out
  }

  #take(piece: string, out: TextLine[], complete: boolean): void {
    if (!this.#overlong) {
      this.#partial += piece
      if (this.#partial.length > this.#maxLineChars) {
        this.#overlong = true
        this.#partial = ''
      }
    }
    if (complete) this.#finish(out)
  }

  #finish(out: TextLine[]): void {
    const text = this.#partial.endsWith('\r') ? this.#partial.slice(0, -1) : this.#partial
    out.push(this.#overlong
      ? { text: '', line: this.#line, problem: `line is longer than ${this.#maxLineChars.toLocaleString('en-US')} characters` }
      : { text, line: this.#line })
    this.#partial = ''
    this.#overlong = false
    this.#line++
  }
}

export type ParsedLine = { readonly ok: true; readonly value: JsonObject } | { readonly ok: false; readonly reason: string }

/** Parses one JSONL line into an object. */
export function parseJsonLine(text: string): ParsedLine {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    return { ok: false, reason: `not valid JSON: ${(error as Error).message}` }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, reason: `expected a JSON object, found ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}` }
  }
  return { ok: true, value: value as JsonObject }
}
