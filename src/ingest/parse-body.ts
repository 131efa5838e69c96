/**
 * @module Turns the raw bytes of a tracking request into a JSON value: decompresses gzip/deflate with a hard
 * cap on the decompressed size (a zip bomb is refused after at most `maxBytes` of output, never buffered
 * whole), decodes UTF-8 and parses JSON, refusing `__proto__` keys as Fastify's own JSON parser does.
 */
import { promisify } from 'node:util'
import { gunzip, inflate, type ZlibOptions } from 'node:zlib'

const gunzipAsync = promisify(gunzip)
const inflateAsync = promisify(inflate)

/** `Content-Encoding` values the tracking API accepts (`x-gzip` is the legacy alias of `gzip`). */
export const CONTENT_ENCODINGS = ['identity', 'gzip', 'x-gzip', 'deflate'] as const
export type ContentEncoding = (typeof CONTENT_ENCODINGS)[number]

export const BODY_FAILURES = ['too_large', 'malformed'] as const
export type BodyFailure = (typeof BODY_FAILURES)[number]

export type BodyResult =
  | { readonly ok: true; readonly value: unknown; /** Decoded size in bytes. */ readonly bytes: number }
  | { readonly ok: false; readonly reason: BodyFailure; readonly message: string }

/** Normalises a `Content-Encoding` header; `undefined` when it names an encoding the API does not accept. */
export function contentEncodingOf(header: string | undefined): ContentEncoding | undefined {
  if (header === undefined) return 'identity'
  const value = header.trim().toLowerCase()
  if (value === '') return 'identity'
  return (CONTENT_ENCODINGS as readonly string[]).includes(value) ? (value as ContentEncoding) : undefined
}

/**
 * Decodes and parses a request body.
 *
 * @param raw the bytes as received (Fastify already refused more than the endpoint limit of them)
 * @param contentEncoding the `Content-Encoding` header, if any
 * @param maxBytes the endpoint limit, applied again to the decompressed size
 * @returns the parsed JSON value, or why it could not be read (`too_large` → 413, `malformed` → 400)
 */
export async function parseJsonBody(raw: Buffer, contentEncoding: string | undefined, maxBytes: number): Promise<BodyResult> {
  const encoding = contentEncodingOf(contentEncoding)
  if (encoding === undefined) {
    return { ok: false, reason: 'malformed', message: `Content-Encoding ${JSON.stringify(contentEncoding)} is not supported (send gzip, deflate or no encoding)` }
  }
  let bytes: Buffer
  if (encoding === 'identity') {
    bytes = raw
  } else {
    const decoded = await decompress(raw, encoding, maxBytes)
    if (!decoded.ok) return decoded
    bytes = decoded.bytes
  }
  if (bytes.length > maxBytes) return { ok: false, reason: 'too_large', message: `is larger than ${maxBytes} bytes` }
  return parseJsonText(bytes.toString('utf8'), bytes.length)
}

type Decompressed = { readonly ok: true; readonly bytes: Buffer } | { readonly ok: false; readonly reason: BodyFailure; readonly message: string }

async function decompress(raw: Buffer, encoding: Exclude<ContentEncoding, 'identity'>, maxBytes: number): Promise<Decompressed> {
  // maxOutputLength makes zlib stop (ERR_BUFFER_TOO_LARGE) as soon as the output passes the limit, so a
  // 10 KB bomb that expands to gigabytes costs at most `maxBytes` of memory.
  const options: ZlibOptions = { maxOutputLength: maxBytes }
  try {
    const bytes = encoding === 'deflate' ? await inflateAsync(raw, options) : await gunzipAsync(raw, options)
    return { ok: true, bytes }
  } catch (cause) {
    // Expected outcomes of untrusted input, returned as values: an over-limit output or corrupt data.
    if ((cause as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
      return { ok: false, reason: 'too_large', message: `decompresses to more than ${maxBytes} bytes` }
    }
    return { ok: false, reason: 'malformed', message: `is not valid ${encoding === 'deflate' ? 'deflate' : 'gzip'} data` }
  }
}

/** Parses JSON text (a leading byte-order mark is allowed); refuses `__proto__` keys. */
export function parseJsonText(text: string, bytes: number): BodyResult {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
  let value: unknown
  let poisoned = false
  try {
    // The reviver costs a call per value, so it only runs when the text can contain the key at all.
    value = body.includes('"__proto__"')
      ? JSON.parse(body, function reviver(key: string, v: unknown) {
        if (key === '__proto__') poisoned = true
        return v
      })
      : JSON.parse(body)
  } catch {
    // V8's message quotes the payload; the client gets a generic one and nothing reaches the logs.
    return { ok: false, reason: 'malformed', message: 'is not valid JSON' }
  }
  if (poisoned) return { ok: false, reason: 'malformed', message: 'must not contain "__proto__" keys' }
  return { ok: true, value, bytes }
}
