/**
 * @module Decompression of Spark event logs, in the stream framings Spark's own codecs write
 * (core/src/main/scala/org/apache/spark/io/CompressionCodec.scala):
 * - zstd: zstd-jni's `ZstdOutputStream`, standard zstd frames (decoded by `zstddec`, the reference decoder in
 *   WebAssembly; `fzstd`, pure JS, decoded one of the corpus logs to wrong bytes and was dropped);
 * - lz4: lz4-java's `LZ4BlockOutputStream` (blocks of `LZ4Block` magic, token, lengths and an xxHash32
 *   checksum; no library on npm reads this framing, so it is parsed here and each block is decoded by `lz4js`);
 * - snappy: snappy-java's `SnappyOutputStream` (`\x82SNAPPY\0` header, then length-prefixed raw snappy blocks),
 *   and also the standard snappy framing format (`sNaPpY` stream identifier), blocks decoded by `snappyjs`;
 * - gzip (not a Spark codec, but how logs are often archived): node's zlib.
 * The codec is found from the content's magic bytes first and the file suffix second, so a renamed file still
 * reads. Every decoder pushes decompressed chunks to a callback, so a 150 MB log never sits in memory as text.
 */
import { gunzipSync } from 'node:zlib'
import { ZSTDDecoder } from 'zstddec/stream'
import { xxHash32 } from 'js-xxhash'
import lz4 from 'lz4js'
import snappy from 'snappyjs'

export const CODECS = ['none', 'zstd', 'lz4', 'snappy', 'gzip', 'lzf'] as const
export type Codec = (typeof CODECS)[number]

/** A compressed stream that cannot be decoded; `offset` is the byte where decoding stopped. */
export class CodecError extends Error {
  readonly codec: Codec
  readonly offset: number
  constructor(codec: Codec, offset: number, message: string) {
    super(`${codec} stream, byte ${offset}: ${message}`)
    this.name = 'CodecError'
    this.codec = codec
    this.offset = offset
  }
}

const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd]
const LZ4_BLOCK_MAGIC = [0x4c, 0x5a, 0x34, 0x42, 0x6c, 0x6f, 0x63, 0x6b] // "LZ4Block"
const SNAPPY_JAVA_MAGIC = [0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00] // "\x82SNAPPY\0"
const SNAPPY_FRAMED_MAGIC = [0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59] // chunk 0xff, "sNaPpY"
const GZIP_MAGIC = [0x1f, 0x8b]
const LZF_MAGIC = [0x5a, 0x56] // "ZV"

function startsWith(data: Uint8Array, magic: readonly number[], at = 0): boolean {
  if (data.length < at + magic.length) return false
  for (let i = 0; i < magic.length; i++) if (data[at + i] !== magic[i]) return false
  return true
}

/** The codec of an event log from its first bytes, else from its file name's suffix, else `none`. */
export function detectCodec(head: Uint8Array, fileName = ''): Codec {
  if (startsWith(head, ZSTD_MAGIC)) return 'zstd'
  if (startsWith(head, LZ4_BLOCK_MAGIC)) return 'lz4'
  if (startsWith(head, SNAPPY_JAVA_MAGIC) || startsWith(head, SNAPPY_FRAMED_MAGIC)) return 'snappy'
  if (startsWith(head, GZIP_MAGIC)) return 'gzip'
  const suffix = /\.([a-z0-9]+)$/i.exec(fileName.replace(/\.inprogress$/, ''))?.[1]?.toLowerCase()
  if (suffix === 'zstd' || suffix === 'zst') return 'zstd'
  if (suffix === 'lz4') return 'lz4'
  if (suffix === 'snappy') return 'snappy'
  if (suffix === 'gz') return 'gzip'
  if (suffix === 'lzf' || startsWith(head, LZF_MAGIC)) return 'lzf'
  return 'none'
}

let zstd: ZSTDDecoder | undefined
let zstdReady: Promise<void> | undefined

/** Loads the WebAssembly zstd decoder (once); {@link decompress} needs it done first. */
export function initCodecs(): Promise<void> {
  zstdReady ??= (async () => {
    const decoder = new ZSTDDecoder()
    await decoder.init()
    zstd = decoder
  })()
  return zstdReady
}

/**
 * Decodes `data` with `codec`, calling `onChunk` with each piece of decompressed bytes in order. A stream that
 * ends early (a log still being written, a copy cut short) delivers what it could and then throws a CodecError,
 * so the caller can keep the lines read and report where the stream broke.
 */
export function decompress(codec: Codec, data: Uint8Array, onChunk: (chunk: Uint8Array) => void): void {
  switch (codec) {
    case 'none':
      onChunk(data)
      return
    case 'zstd':
      decodeZstd(data, onChunk)
      return
    case 'lz4':
      decodeLz4Blocks(data, onChunk)
      return
    case 'snappy':
      if (startsWith(data, SNAPPY_FRAMED_MAGIC)) decodeSnappyFramed(data, onChunk)
      else decodeSnappyJava(data, onChunk)
      return
    case 'gzip':
      try {
        onChunk(gunzipSync(data))
      } catch (error) {
        throw new CodecError('gzip', 0, (error as Error).message)
      }
      return
    case 'lzf':
      throw new CodecError('lzf', 0, 'the lzf codec is not supported; recompress the log with zstd (spark.eventLog.compression.codec=zstd) or decompress it first')
  }
}

/** Input slices handed to the zstd decoder: small, so a broken stream strands little memory (see below). */
const ZSTD_SLICE = 128 * 1024
/** Empty outputs in a row after which the stream is taken as corrupt. */
const ZSTD_STALL = 64

function* slices(data: Uint8Array): Generator<Uint8Array> {
  for (let at = 0; at < data.length; at += ZSTD_SLICE) yield data.subarray(at, Math.min(data.length, at + ZSTD_SLICE))
}

function decodeZstd(data: Uint8Array, onChunk: (chunk: Uint8Array) => void): void {
  if (!zstd) throw new Error('call initCodecs() before decoding zstd')
  let delivered = 0
  let empty = 0
  // zstddec's streaming loop does not check ZSTD_isError: on corrupt input it keeps yielding empty output
  // without consuming input. Stop after a run of empty outputs and report the stream as corrupt; the
  // generator is abandoned with its current slice (at most ZSTD_SLICE bytes of WebAssembly memory).
  try {
    for (const chunk of zstd.decodeStreaming(slices(data))) {
      if (chunk.length === 0) {
        if (++empty >= ZSTD_STALL) throw new CodecError('zstd', data.length, `corrupt frame (after ${delivered} decompressed bytes)`)
        continue
      }
      empty = 0
      delivered += chunk.length
      onChunk(chunk)
    }
  } catch (error) {
    if (error instanceof CodecError) throw error
    throw new CodecError('zstd', data.length, `${(error as Error).message} (truncated? after ${delivered} decompressed bytes)`)
  }
}

// lz4-java LZ4BlockOutputStream: MAGIC(8) token(1) compressedLength(4 LE) decompressedLength(4 LE) checksum(4 LE).
const LZ4_HEADER = 8 + 1 + 4 + 4 + 4
const LZ4_METHOD_RAW = 0x10
const LZ4_METHOD_LZ4 = 0x20
const LZ4_SEED = 0x9747b28c

function readIntLE(d: Uint8Array, at: number): number {
  return (d[at]! | (d[at + 1]! << 8) | (d[at + 2]! << 16) | (d[at + 3]! << 24)) >>> 0
}

function readIntBE(d: Uint8Array, at: number): number {
  return ((d[at]! << 24) | (d[at + 1]! << 16) | (d[at + 2]! << 8) | d[at + 3]!) >>> 0
}

function decodeLz4Blocks(data: Uint8Array, onChunk: (chunk: Uint8Array) => void): void {
  let at = 0
  while (at < data.length) {
    if (data.length - at < LZ4_HEADER) throw new CodecError('lz4', at, 'truncated block header')
    if (!startsWith(data, LZ4_BLOCK_MAGIC, at)) throw new CodecError('lz4', at, 'expected the LZ4Block magic (not an lz4-java LZ4BlockOutputStream?)')
    const token = data[at + 8]!
    const method = token & 0xf0
    const compressed = readIntLE(data, at + 9)
    const length = readIntLE(data, at + 13)
    const check = readIntLE(data, at + 17)
    const body = at + LZ4_HEADER
    if (method !== LZ4_METHOD_RAW && method !== LZ4_METHOD_LZ4) throw new CodecError('lz4', at, `unknown compression method 0x${method.toString(16)}`)
    if (length > (1 << 30) || compressed > (1 << 30)) throw new CodecError('lz4', at, 'block length out of range')
    if (data.length - body < compressed) throw new CodecError('lz4', at, `truncated block (needs ${compressed} bytes, ${data.length - body} left)`)
    // A block with both lengths 0 ends one stream; lz4-java's reader then continues with a concatenated stream.
    if (length === 0 && compressed === 0) {
      at = body
      continue
    }
    let out: Uint8Array
    if (method === LZ4_METHOD_RAW) {
      if (compressed !== length) throw new CodecError('lz4', at, 'raw block with different lengths')
      out = data.subarray(body, body + length)
    } else {
      out = new Uint8Array(length)
      let written: number
      try {
        written = lz4.decompressBlock(data, out, body, compressed, 0)
      } catch (error) {
        throw new CodecError('lz4', at, `corrupt block: ${(error as Error).message}`)
      }
      if (written !== length) throw new CodecError('lz4', at, `block decoded to ${written} bytes, header says ${length}`)
    }
    // StreamingXXHash32.asChecksum() keeps the low 28 bits of the hash.
    if ((xxHash32(out, LZ4_SEED) & 0x0fffffff) !== check) throw new CodecError('lz4', at, 'checksum mismatch (corrupt block)')
    onChunk(out)
    at = body + compressed
  }
}

function uncompressSnappy(block: Uint8Array, at: number): Uint8Array {
  try {
    return snappy.uncompress(block) as Uint8Array
  } catch (error) {
    throw new CodecError('snappy', at, `corrupt block: ${(error as Error).message}`)
  }
}

function decodeSnappyJava(data: Uint8Array, onChunk: (chunk: Uint8Array) => void): void {
  // SnappyOutputStream: magic(8) version(4 BE) compatibleVersion(4 BE), then [length(4 BE)][raw snappy block]...
  if (!startsWith(data, SNAPPY_JAVA_MAGIC)) throw new CodecError('snappy', 0, 'expected the snappy-java stream header (\\x82SNAPPY\\0) or the snappy framing format')
  let at = 16
  while (at < data.length) {
    // snappy-java's reader accepts a second stream header after a concatenation.
    if (startsWith(data, SNAPPY_JAVA_MAGIC, at)) {
      at += 16
      continue
    }
    if (data.length - at < 4) throw new CodecError('snappy', at, 'truncated block length')
    const length = readIntBE(data, at)
    if (data.length - at - 4 < length) throw new CodecError('snappy', at, `truncated block (needs ${length} bytes, ${data.length - at - 4} left)`)
    onChunk(uncompressSnappy(data.subarray(at + 4, at + 4 + length), at))
    at += 4 + length
  }
}

function decodeSnappyFramed(data: Uint8Array, onChunk: (chunk: Uint8Array) => void): void {
  // https://github.com/google/snappy/blob/main/framing_format.txt: [type(1)][length(3 LE)][data]; the CRC-32C
  // of each data chunk is not verified (the block decoder rejects corrupt input on its own).
  let at = 0
  while (at < data.length) {
    if (data.length - at < 4) throw new CodecError('snappy', at, 'truncated chunk header')
    const type = data[at]!
    const length = data[at + 1]! | (data[at + 2]! << 8) | (data[at + 3]! << 16)
    const body = at + 4
    if (data.length - body < length) throw new CodecError('snappy', at, 'truncated chunk')
    if (type === 0x00) onChunk(uncompressSnappy(data.subarray(body + 4, body + length), at))
    else if (type === 0x01) onChunk(data.subarray(body + 4, body + length))
    else if (type >= 0x02 && type <= 0x7f) throw new CodecError('snappy', at, `reserved unskippable chunk type 0x${type.toString(16)}`)
    at = body + length
  }
}
