/**
 * @module RFC 6962 / RFC 9162 Merkle tree: leaf and node hashing with domain separation
 * (leaf = SHA-256(0x00 || entry), node = SHA-256(0x01 || left || right)), tree heads, inclusion and
 * consistency proofs, and their verification (RFC 9162 §2.1.3.2 and §2.1.4.2). The tree keeps every
 * complete (power-of-two, aligned) subtree hash, so a root or a proof costs O(log² n) hashes.
 */
import { createHash } from 'node:crypto'

export const HASH_BYTES = 32

export function sha256(...parts: readonly Uint8Array[]): Buffer {
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  return h.digest()
}

const LEAF_PREFIX = Buffer.from([0x00])
const NODE_PREFIX = Buffer.from([0x01])

export function leafHash(entry: Uint8Array): Buffer {
  return sha256(LEAF_PREFIX, entry)
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return sha256(NODE_PREFIX, left, right)
}

/** MTH({}) = SHA-256 of the empty string. */
export function emptyRoot(): Buffer {
  return sha256()
}

/** The largest power of two strictly smaller than n (n ≥ 2). */
function splitPoint(n: number): number {
  let k = 1
  while (k * 2 < n) k *= 2
  return k
}

/** An append-only Merkle tree over leaf hashes. */
export class MerkleTree {
  /** levels[h][i] = hash of the complete subtree of 2^h leaves starting at leaf i·2^h. */
  readonly #levels: Buffer[][] = [[]]

  static fromLeafHashes(hashes: Iterable<Buffer>): MerkleTree {
    const tree = new MerkleTree()
    for (const h of hashes) tree.append(h)
    return tree
  }

  get size(): number {
    return this.#levels[0]!.length
  }

  leafHash(index: number): Buffer {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.size) throw new RangeError(`leaf ${index} is not in a tree of ${this.size}`)
    return this.#levels[0]![index]!
  }

  append(hash: Buffer): void {
    if (hash.length !== HASH_BYTES) throw new RangeError(`a leaf hash has ${HASH_BYTES} bytes, not ${hash.length}`)
    this.#levels[0]!.push(hash)
    // Complete every subtree this leaf closes.
    let level = 0
    let index = this.#levels[0]!.length - 1
    while (index % 2 === 1) {
      const below = this.#levels[level]!
      const above = (this.#levels[level + 1] ??= [])
      above.push(nodeHash(below[index - 1]!, below[index]!))
      level++
      index = (index - 1) / 2
    }
  }

  /** MTH(D[start:start+n]) for a range that the RFC's recursion can ask for. */
  #range(start: number, n: number): Buffer {
    if (n === 0) return emptyRoot()
    if ((n & (n - 1)) === 0 && start % n === 0) {
      const level = Math.log2(n)
      return this.#levels[level]![start / n]!
    }
    const k = splitPoint(n)
    return nodeHash(this.#range(start, k), this.#range(start + k, n - k))
  }

  #checkSize(size: number): void {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.size) {
      throw new RangeError(`tree size ${size} is not between 0 and the current size ${this.size}`)
    }
  }

  /** The root of the tree made of the first `size` leaves (default: all). */
  root(size = this.size): Buffer {
    this.#checkSize(size)
    return this.#range(0, size)
  }

  /** Audit path of leaf `index` in the tree of the first `size` leaves (RFC 6962 §2.1.1 PATH). */
  inclusionProof(index: number, size = this.size): Buffer[] {
    this.#checkSize(size)
    if (!Number.isSafeInteger(index) || index < 0 || index >= size) throw new RangeError(`leaf ${index} is not in a tree of ${size}`)
    const path = (m: number, start: number, n: number): Buffer[] => {
      if (n === 1) return []
      const k = splitPoint(n)
      return m < k
        ? [...path(m, start, k), this.#range(start + k, n - k)]
        : [...path(m - k, start + k, n - k), this.#range(start, k)]
    }
    return path(index, 0, size)
  }

  /** Proof that the tree of `from` leaves is a prefix of the tree of `to` leaves (RFC 6962 §2.1.2 PROOF). */
  consistencyProof(from: number, to = this.size): Buffer[] {
    this.#checkSize(to)
    if (!Number.isSafeInteger(from) || from < 0 || from > to) throw new RangeError(`tree size ${from} is not between 0 and ${to}`)
    if (from === 0 || from === to) return []
    const sub = (m: number, start: number, n: number, complete: boolean): Buffer[] => {
      if (m === n) return complete ? [] : [this.#range(start, n)]
      const k = splitPoint(n)
      return m <= k
        ? [...sub(m, start, k, complete), this.#range(start + k, n - k)]
        : [...sub(m - k, start + k, n - k, false), this.#range(start, k)]
    }
    return sub(from, 0, to, true)
  }
}

function sameHash(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === HASH_BYTES && b.length === HASH_BYTES && Buffer.from(a).equals(Buffer.from(b))
}

/** RFC 9162 §2.1.3.2: true when `proof` shows the leaf with `hash` at `index` in the tree of `size` with `root`. */
export function verifyInclusion(index: number, size: number, hash: Uint8Array, proof: readonly Uint8Array[], root: Uint8Array): boolean {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return false
  if (hash.length !== HASH_BYTES || proof.some((p) => p.length !== HASH_BYTES)) return false
  let fn = index
  let sn = size - 1
  let r: Buffer = Buffer.from(hash)
  for (const p of proof) {
    if (sn === 0) return false
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r)
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2)
        sn = Math.floor(sn / 2)
      }
    } else {
      r = nodeHash(r, p)
    }
    fn = Math.floor(fn / 2)
    sn = Math.floor(sn / 2)
  }
  return sn === 0 && sameHash(r, root)
}

/** RFC 9162 §2.1.4.2: true when `proof` shows the tree (`size1`, `root1`) is a prefix of (`size2`, `root2`). */
export function verifyConsistency(
  size1: number, size2: number, root1: Uint8Array, root2: Uint8Array, proof: readonly Uint8Array[],
): boolean {
  if (!Number.isSafeInteger(size1) || !Number.isSafeInteger(size2) || size1 < 0 || size2 < size1) return false
  if (proof.some((p) => p.length !== HASH_BYTES)) return false
  if (size1 === size2) return proof.length === 0 && sameHash(root1, root2)
  if (size1 === 0) return proof.length === 0
  if (proof.length === 0) return false
  const path: Uint8Array[] = (size1 & (size1 - 1)) === 0 ? [root1, ...proof] : [...proof]
  let fn = size1 - 1
  let sn = size2 - 1
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2)
    sn = Math.floor(sn / 2)
  }
  let fr: Buffer = Buffer.from(path[0]!)
  let sr: Buffer = Buffer.from(path[0]!)
  for (const c of path.slice(1)) {
    if (sn === 0) return false
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr)
      sr = nodeHash(c, sr)
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2)
        sn = Math.floor(sn / 2)
      }
    } else {
      sr = nodeHash(sr, c)
    }
    fn = Math.floor(fn / 2)
    sn = Math.floor(sn / 2)
  }
  return sn === 0 && sameHash(fr, root1) && sameHash(sr, root2)
}
