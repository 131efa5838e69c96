/**
 * @module Reading a tracking API error answer (`{success:false, code, message, field, problems}`) and tying its
 * problems to the events of the batch that caused it.
 */
import type { FieldProblem } from '../core/errors.js'

export interface ErrorAnswer {
  readonly code: string | undefined
  readonly message: string
  readonly field: string | undefined
  readonly problems: readonly FieldProblem[]
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Parses an error body; a body that is not the documented JSON becomes its text as the message. */
export function parseErrorAnswer(body: string, status: number): ErrorAnswer {
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch {
    // Not JSON (a proxy's HTML page, an empty body): the text itself is the best message there is.
    const text = body.trim().slice(0, 300)
    return { code: undefined, message: text === '' ? `HTTP ${status}` : text, field: undefined, problems: [] }
  }
  if (!isRecord(parsed)) return { code: undefined, message: `HTTP ${status}`, field: undefined, problems: [] }
  const problems: FieldProblem[] = []
  if (Array.isArray(parsed.problems)) {
    for (const p of parsed.problems) {
      if (isRecord(p) && typeof p.message === 'string') {
        problems.push({ field: typeof p.field === 'string' ? p.field : '', message: p.message })
      }
    }
  }
  const field = typeof parsed.field === 'string' ? parsed.field : undefined
  if (problems.length === 0 && field !== undefined && typeof parsed.message === 'string') {
    problems.push({ field, message: parsed.message })
  }
  return {
    code: typeof parsed.code === 'string' ? parsed.code : undefined,
    message: typeof parsed.message === 'string' ? parsed.message : `HTTP ${status}`,
    field,
    problems,
  }
}

// `.batch[3].userId` (Tessera's validation errors), `.batch.3.userId` (Ajv instancePath as the error handler
// rewrites it), `/batch/3/userId` (raw JSON pointer) and `batch[3]` all name event 3.
const BATCH_FIELD = /^[./]?batch(?:\[(\d+)\]|[./](\d+))(.*)$/

/**
 * Groups problems by the index of the event they name, with the field made relative to that event
 * (`.batch[3].userId` → `.userId`). Problems that name no event of a batch of `length` are left out.
 */
export function problemsByEvent(problems: readonly FieldProblem[], length: number): Map<number, FieldProblem[]> {
  const byIndex = new Map<number, FieldProblem[]>()
  for (const problem of problems) {
    const match = BATCH_FIELD.exec(problem.field)
    if (!match) continue
    const index = Number(match[1] ?? match[2])
    if (!Number.isInteger(index) || index < 0 || index >= length) continue
    const relative = match[3] ?? ''
    const list = byIndex.get(index) ?? []
    list.push({ field: relative === '' ? '.' : relative, message: problem.message })
    byIndex.set(index, list)
  }
  return byIndex
}

/** One line for a person: `.userId: must be a string; .event: is required`. */
export function describeProblems(problems: readonly FieldProblem[]): string {
  return problems
    .map((p) => {
      // Error messages often already start with their field (`.batch[0].userId: ...`); do not repeat it.
      const message = p.message.replace(BATCH_PREFIX_IN_MESSAGE, '')
      return p.field === '' || p.field === '.' || message.startsWith(p.field) ? message : `${p.field}: ${message}`
    })
    .join('; ')
}

const BATCH_PREFIX_IN_MESSAGE = /^[./]?batch(?:\[\d+\]|[./]\d+)/
