/** @module Stable, fast hashing for partitioning and deterministic ids. */
import { createHash } from 'node:crypto'

/** 32-bit FNV-1a over UTF-16 code units; used to pick a partition from a key. */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return hash >>> 0
}

export function partitionFor(key: string | null, partitions: number, fallback: number): number {
  if (key === null || key === '') return fallback % partitions
  return fnv1a32(key) % partitions
}

/** A short deterministic id (base36 of the first 15 bytes of a SHA-256) with a prefix. */
export function deterministicId(prefix: string, ...parts: string[]): string {
  const digest = createHash('sha256').update(parts.join('\u0000')).digest()
  return prefix + BigInt('0x' + digest.subarray(0, 15).toString('hex')).toString(36).padStart(24, '0')
}
