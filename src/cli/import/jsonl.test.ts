import { describe, expect, it } from 'vitest'
import { LineSplitter, parseJsonLine } from './jsonl.js'

describe('LineSplitter', () => {
  it('numbers LF and CRLF lines across chunks and drops a BOM', () => {
    const splitter = new LineSplitter()
    const lines = [...splitter.push('\uFEFF{"a":1}\r\n{"b"'), ...splitter.push(':2}\n\n{"c":3}'), ...splitter.end()]
    expect(lines).toEqual([
      { text: '{"a":1}', line: 1 },
      { text: '{"b":2}', line: 2 },
      { text: '', line: 3 },
      { text: '{"c":3}', line: 4 },
    ])
  })
  it('reports an overlong line without keeping it', () => {
    const splitter = new LineSplitter(10)
    const lines = [...splitter.push('x'.repeat(25)), ...splitter.push('\nok\n')]
    expect(lines).toEqual([{ text: '', line: 1, problem: 'line is longer than 10 characters' }, { text: 'ok', line: 2 }])
  })
})

describe('parseJsonLine', () => {
  it('accepts objects only', () => {
    expect(parseJsonLine('{"userId":"u"}')).toEqual({ ok: true, value: { userId: 'u' } })
    expect(parseJsonLine('[1]')).toEqual({ ok: false, reason: 'expected a JSON object, found an array' })
    expect(parseJsonLine('{oops').ok).toBe(false)
  })
})
