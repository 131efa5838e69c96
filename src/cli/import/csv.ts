/**
 * @module Streaming CSV parser (RFC 4180 plus what real exports do: a UTF-8 BOM, CRLF, LF or CR line ends, `;`
 * or tab delimiters, spaces around fields, blank lines) and the matching writer. Text is pushed in chunks of any
 * size; records come out with the line they start on, so a report can point at the line to fix.
 */

export const CSV_DELIMITERS = [',', ';', '\t', '|'] as const
export type CsvDelimiter = (typeof CSV_DELIMITERS)[number]

export function isCsvDelimiter(value: string): value is CsvDelimiter {
  return (CSV_DELIMITERS as readonly string[]).includes(value)
}

export interface CsvRecord {
  readonly fields: readonly string[]
  /** 1-based line the record starts on (a quoted field may span several lines). */
  readonly line: number
  /** A quoting mistake in this record (text after a closing quote, a quote never closed); fields are best effort. */
  readonly problem?: string
}

export interface CsvParserOptions {
  readonly delimiter: string
  /** Trim spaces and tabs around unquoted fields, as `a, b` exports need (default true). Quoted text is kept as is. */
  readonly trim?: boolean
  /** Longest field accepted (default 1 M characters), so a quote that is never closed cannot swallow the memory. */
  readonly maxFieldChars?: number
}

/** The input cannot be parsed further (a field larger than `maxFieldChars`). */
export class CsvFormatError extends Error {
  readonly line: number
  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`)
    this.name = 'CsvFormatError'
    this.line = line
  }
}

// Parser states.
/** At the start of a field; only spaces seen so far (kept in `#field` in case the field is unquoted). */
const FIELD_START = 0
const UNQUOTED = 1
const QUOTED = 2
/** Saw `"` inside a quoted field: an escaped quote (`""`) or the closing quote. */
const QUOTE_IN_QUOTED = 3
/** After the closing quote: only spaces may come before the delimiter or the line end. */
const AFTER_QUOTED = 4
type State = typeof FIELD_START | typeof UNQUOTED | typeof QUOTED | typeof QUOTE_IN_QUOTED | typeof AFTER_QUOTED

/**
 * Incremental CSV parser.
 *
 * @example
 * const parser = new CsvParser({ delimiter: ',' })
 * const records = [...parser.push('a,"b\n'), ...parser.push('c"\n'), ...parser.end()] // [{ fields: ['a', 'b\nc'], line: 1 }]
 */
export class CsvParser {
  readonly #delimiter: string
  readonly #trim: boolean
  readonly #maxFieldChars: number
  #state: State = FIELD_START
  #field = ''
  #fieldQuoted = false
  #fields: string[] = []
  #problem: string | undefined
  #line = 1
  #recordLine = 1
  #quoteLine = 1
  /** A CR ended the last line; a following LF belongs to it. */
  #afterCr = false
  /** The last character inside the quoted field was a CR (so a following LF is the same line break). */
  #crInQuoted = false
  /** The current record has a quoted field, so `""` alone on a line is a record and not a blank line. */
  #recordQuoted = false
  #started = false

  constructor(options: CsvParserOptions) {
    if (options.delimiter.length !== 1 || options.delimiter === '"' || options.delimiter === '\n' || options.delimiter === '\r') {
      throw new RangeError(`CSV delimiter must be one character other than a quote or a line break, got ${JSON.stringify(options.delimiter)}`)
    }
    this.#delimiter = options.delimiter
    this.#trim = options.trim ?? true
    this.#maxFieldChars = options.maxFieldChars ?? 1024 * 1024
  }

  /** Parses a chunk; returns the records it completed. Throws {@link CsvFormatError} on a runaway field. */
  push(text: string): CsvRecord[] {
    const out: CsvRecord[] = []
    let i = 0
    if (!this.#started && text.length > 0) {
      this.#started = true
      if (text.charCodeAt(0) === 0xfeff) i = 1
    }
    const d = this.#delimiter
    for (; i < text.length; i++) {
      const c = text[i]!
      if (this.#afterCr) {
        this.#afterCr = false
        if (c === '\n') continue
      }
      switch (this.#state) {
        case FIELD_START:
          if (c === '"') {
            this.#field = ''
            this.#fieldQuoted = true
            this.#quoteLine = this.#line
            this.#recordQuoted = true
            this.#crInQuoted = false
            this.#state = QUOTED
          } else if (c === d) this.#endField()
          else if (c === '\n' || c === '\r') this.#endLine(c, out)
          else {
            this.#field += c
            if (c !== ' ' && c !== '\t') this.#state = UNQUOTED
          }
          break
        case UNQUOTED:
          if (c === d) this.#endField()
          else if (c === '\n' || c === '\r') this.#endLine(c, out)
          else this.#append(c)
          break
        case QUOTED:
          if (c === '"') this.#state = QUOTE_IN_QUOTED
          else {
            if (c === '\r' || (c === '\n' && !this.#crInQuoted)) this.#line++
            this.#crInQuoted = c === '\r'
            this.#append(c)
          }
          break
        case QUOTE_IN_QUOTED:
          if (c === '"') {
            this.#append('"')
            this.#state = QUOTED
          } else if (c === d) this.#endField()
          else if (c === '\n' || c === '\r') this.#endLine(c, out)
          else if (c === ' ' || c === '\t') this.#state = AFTER_QUOTED
          else this.#textAfterQuote(c)
          break
        case AFTER_QUOTED:
          if (c === d) this.#endField()
          else if (c === '\n' || c === '\r') this.#endLine(c, out)
          else if (c !== ' ' && c !== '\t') this.#textAfterQuote(c)
          break
      }
    }
    return out
  }

  /** Finishes the input; returns the last record if the text did not end with a line break. */
  end(): CsvRecord[] {
    const out: CsvRecord[] = []
    if (this.#state === QUOTED) {
      this.#problem ??= `the quoted field starting on line ${this.#quoteLine} is never closed`
    }
    if (this.#state !== FIELD_START || this.#field !== '' || this.#fields.length > 0) {
      this.#endField()
      this.#emit(out)
    }
    return out
  }

  #append(c: string): void {
    this.#field += c
    if (this.#field.length > this.#maxFieldChars) {
      const hint = this.#fieldQuoted ? `; is the closing quote of the field starting on line ${this.#quoteLine} missing?` : ''
      throw new CsvFormatError(this.#recordLine, `a field is longer than ${this.#maxFieldChars.toLocaleString('en-US')} characters${hint}`)
    }
  }

  #textAfterQuote(c: string): void {
    // RFC 4180 allows nothing between a closing quote and the delimiter. Keep the text (best effort) and report
    // the record, rather than guessing what the writer meant.
    this.#problem ??= `unexpected text after the closing quote of field ${this.#fields.length + 1}`
    this.#field += c
    this.#state = UNQUOTED
  }

  #endField(): void {
    this.#fields.push(this.#fieldQuoted || !this.#trim ? this.#field : this.#field.trim())
    this.#field = ''
    this.#fieldQuoted = false
    this.#state = FIELD_START
  }

  #endLine(c: string, out: CsvRecord[]): void {
    this.#endField()
    this.#emit(out)
    this.#line++
    this.#recordLine = this.#line
    if (c === '\r') this.#afterCr = true
  }

  #emit(out: CsvRecord[]): void {
    const fields = this.#fields
    this.#fields = []
    const blank = fields.length === 1 && fields[0]!.trim() === '' && this.#problem === undefined && !this.#recordQuoted
    if (!blank) out.push(this.#problem === undefined ? { fields, line: this.#recordLine } : { fields, line: this.#recordLine, problem: this.#problem })
    this.#problem = undefined
    this.#recordQuoted = false
  }
}

/**
 * Guesses the delimiter from the header line of `sample`: the most frequent of `,` `;` tab `|` outside quotes
 * (`,` when none appears, e.g. a one-column file).
 */
export function detectDelimiter(sample: string): CsvDelimiter {
  const counts = new Map<CsvDelimiter, number>(CSV_DELIMITERS.map((d) => [d, 0]))
  let quoted = false
  for (const c of sample) {
    if (c === '"') quoted = !quoted
    else if (!quoted && (c === '\n' || c === '\r')) break
    else if (!quoted && isCsvDelimiter(c)) counts.set(c, (counts.get(c) ?? 0) + 1)
  }
  let best: CsvDelimiter = ','
  for (const d of CSV_DELIMITERS) if ((counts.get(d) ?? 0) > (counts.get(best) ?? 0)) best = d
  return best
}

/** One CSV line (with CRLF, RFC 4180), quoting the fields that need it. */
export function formatCsvRow(fields: readonly string[], delimiter: string = ','): string {
  return fields
    .map((f) => (f.includes(delimiter) || /["\r\n]/.test(f) || f !== f.trim() ? `"${f.replaceAll('"', '""')}"` : f))
    .join(delimiter) + '\r\n'
}
