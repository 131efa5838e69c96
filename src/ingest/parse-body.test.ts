import { deflateSync, gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { contentEncodingOf, parseJsonBody, parseJsonText } from './parse-body.js'

const LIMIT = 1024

describe('parseJsonBody', () => {
  it('parses plain, gzip (and x-gzip) and deflate bodies', async () => {
    const text = JSON.stringify({ batch: [{ type: 'track' }] })
    for (const [bytes, encoding] of [
      [Buffer.from(text), undefined], [gzipSync(text), 'gzip'], [gzipSync(text), 'x-gzip'], [deflateSync(text), 'deflate'], [Buffer.from(text), 'identity'],
    ] as const) {
      const result = await parseJsonBody(bytes, encoding, LIMIT)
      expect(result).toEqual({ ok: true, value: { batch: [{ type: 'track' }] }, bytes: text.length })
    }
  })

  it('refuses output over the limit, however small the compressed input', async () => {
    const bomb = gzipSync(Buffer.alloc(10 * 1024 * 1024, 0x61))
    expect(bomb.length).toBeLessThan(20 * 1024)
    const result = await parseJsonBody(bomb, 'gzip', LIMIT)
    expect(result).toMatchObject({ ok: false, reason: 'too_large' })
  })

  it('refuses an uncompressed body over the limit', async () => {
    expect(await parseJsonBody(Buffer.alloc(LIMIT + 1, 0x20), undefined, LIMIT)).toMatchObject({ ok: false, reason: 'too_large' })
  })

  it('calls corrupt data and unknown encodings malformed', async () => {
    expect(await parseJsonBody(Buffer.from('nope'), 'gzip', LIMIT)).toMatchObject({ ok: false, reason: 'malformed', message: 'is not valid gzip data' })
    expect(await parseJsonBody(Buffer.from('nope'), 'deflate', LIMIT)).toMatchObject({ ok: false, reason: 'malformed', message: 'is not valid deflate data' })
    expect(await parseJsonBody(Buffer.from('{}'), 'br', LIMIT)).toMatchObject({ ok: false, reason: 'malformed' })
  })
})

describe('parseJsonText', () => {
  it('allows a byte-order mark', () => {
    expect(parseJsonText('\uFEFF{"a":1}', 10)).toEqual({ ok: true, value: { a: 1 }, bytes: 10 })
  })

  it('says the body is not valid JSON without quoting it', () => {
    const result = parseJsonText('{"secret": "s3cr3t", ', 20)
    expect(result).toEqual({ ok: false, reason: 'malformed', message: 'is not valid JSON' })
  })

  it('refuses __proto__ keys at any depth but allows the word elsewhere', () => {
    expect(parseJsonText('{"a":{"__proto__":{"x":1}}}', 0)).toMatchObject({ ok: false, reason: 'malformed' })
    expect(parseJsonText('{"a":"__proto__"}', 0)).toMatchObject({ ok: true, value: { a: '__proto__' } })
  })
})

describe('contentEncodingOf', () => {
  it('normalises case and blanks, and rejects what it does not know', () => {
    expect(contentEncodingOf(undefined)).toBe('identity')
    expect(contentEncodingOf(' GZIP ')).toBe('gzip')
    expect(contentEncodingOf('')).toBe('identity')
    expect(contentEncodingOf('gzip, br')).toBeUndefined()
  })
})
