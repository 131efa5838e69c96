import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MerkleTree, emptyRoot, leafHash, nodeHash, verifyConsistency, verifyInclusion } from './merkle.js'

// The Certificate Transparency reference inputs and values (transparency-dev / Trillian merkle tests).
const LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f']
  .map((hex) => Buffer.from(hex, 'hex'))
const ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
]
const INCLUSION = [
  { index: 0, size: 8, proof: ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4'] },
  { index: 5, size: 8, proof: ['bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7'] },
  { index: 2, size: 3, proof: ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125'] },
  { index: 1, size: 5, proof: ['6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b'] },
]
const CONSISTENCY = [
  { from: 1, to: 8, proof: ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4'] },
  { from: 6, to: 8, proof: ['0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7'] },
  { from: 2, to: 5, proof: ['5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b'] },
]

const tree = MerkleTree.fromLeafHashes(LEAVES.map(leafHash))
const hex = (list: readonly Buffer[]): string[] => list.map((b) => b.toString('hex'))
const unhex = (list: readonly string[]): Buffer[] => list.map((h) => Buffer.from(h, 'hex'))
const root = (n: number): Buffer => Buffer.from(ROOTS[n - 1]!, 'hex')
const EMPTY = emptyRoot()

/** Straight from the RFC's recursive definition: the reference model for the property tests. */
function referenceRoot(leaves: readonly Buffer[]): Buffer {
  if (leaves.length === 0) return EMPTY
  if (leaves.length === 1) return leaves[0]!
  let k = 1
  while (k * 2 < leaves.length) k *= 2
  return nodeHash(referenceRoot(leaves.slice(0, k)), referenceRoot(leaves.slice(k)))
}

describe('RFC 6962 Merkle tree', () => {
  it('hashes the empty tree and the leaves with their prefixes', () => {
    expect(EMPTY.toString('hex')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
    expect(leafHash(LEAVES[1]!).toString('hex')).toBe('96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7')
    expect(new MerkleTree().root().equals(EMPTY)).toBe(true)
  })

  it('computes the reference roots of trees of 1 to 8 leaves', () => {
    expect(ROOTS.map((_, i) => tree.root(i + 1).toString('hex'))).toEqual(ROOTS)
  })

  it.each(INCLUSION)('produces and verifies the reference inclusion proof of leaf $index in $size', ({ index, size, proof }) => {
    expect(hex(tree.inclusionProof(index, size))).toEqual(proof)
    expect(verifyInclusion(index, size, leafHash(LEAVES[index]!), unhex(proof), root(size))).toBe(true)
  })

  it.each(CONSISTENCY)('produces and verifies the reference consistency proof $from → $to', ({ from, to, proof }) => {
    expect(hex(tree.consistencyProof(from, to))).toEqual(proof)
    expect(verifyConsistency(from, to, root(from), root(to), unhex(proof))).toBe(true)
  })

  it.each(INCLUSION)('rejects every corrupted inclusion proof of leaf $index in $size', ({ index, size, proof: p }) => {
    const proof = unhex(p)
    const leaf = leafHash(LEAVES[index]!)
    const r = root(size)
    const bad: [number, number, Buffer, Buffer[], Buffer][] = [
      [index - 1, size, leaf, proof, r], [index + 1, size, leaf, proof, r], [index ^ 2, size, leaf, proof, r],
      [index, size * 2, leaf, proof, r], [index, Math.floor(size / 2), leaf, proof, r],
      [index, size, leafHash(Buffer.from('WrongLeaf')), proof, r], [index, size, leaf, proof, EMPTY],
      [index, size, leaf, [...proof, Buffer.alloc(0)], r], [index, size, leaf, [...proof, r], r],
      [index, size, leaf, proof.slice(0, -1), r], [index, size, leaf, [Buffer.alloc(0), ...proof], r], [index, size, leaf, [r, ...proof], r],
      ...proof.map((_, i): [number, number, Buffer, Buffer[], Buffer] => [index, size, leaf, proof.map((x, j) => (j === i ? EMPTY : x)), r]),
      ...proof.map((_, i): [number, number, Buffer, Buffer[], Buffer] => {
        const flipped = proof.map((x) => Buffer.from(x))
        flipped[i]![i % 32]! ^= 1
        return [index, size, leaf, flipped, r]
      }),
    ]
    for (const args of bad) expect(verifyInclusion(...args), JSON.stringify(args.slice(0, 2))).toBe(false)
  })

  it.each(CONSISTENCY)('rejects every corrupted consistency proof $from → $to', ({ from, to, proof: p }) => {
    const proof = unhex(p)
    const [r1, r2] = [root(from), root(to)]
    const bad: [number, number, Buffer, Buffer, Buffer[]][] = [
      [from - 1, to, r1, r2, proof], [from + 1, to, r1, r2, proof], [from ^ 2, to, r1, r2, proof],
      [from, to * 2, r1, r2, proof], [from, Math.floor(to / 2), r1, r2, proof],
      [from, to, Buffer.from('WrongRoot'), r2, proof], [from, to, r1, Buffer.from('WrongRoot'), proof], [from, to, r2, r1, proof],
      [from, to, r1, r2, []], [from, to, r1, r2, [...proof, Buffer.alloc(0)]], [from, to, r1, r2, [...proof, r1]],
      [from, to, r1, r2, proof.slice(0, -1)], [from, to, r1, r2, [Buffer.alloc(0), ...proof]], [from, to, r1, r2, [proof[0]!, ...proof]],
      [to, from, r2, r1, proof], // time travel
      ...proof.map((_, i): [number, number, Buffer, Buffer, Buffer[]] => [from, to, r1, r2, proof.map((x, j) => (j === i ? EMPTY : x))]),
    ]
    for (const args of bad) expect(verifyConsistency(...args), JSON.stringify(args.slice(0, 2))).toBe(false)
  })

  it('treats equal sizes and the empty tree as the RFC says', () => {
    expect(verifyConsistency(0, 0, EMPTY, EMPTY, [])).toBe(true)
    expect(verifyConsistency(3, 3, root(3), root(3), [])).toBe(true)
    expect(verifyConsistency(3, 3, root(3), root(3), [EMPTY])).toBe(false) // roots equal but the proof is not empty
    expect(verifyConsistency(3, 3, root(3), root(4), [])).toBe(false) // a fork: same size, different roots
    expect(verifyInclusion(0, 0, leafHash(LEAVES[0]!), [], EMPTY)).toBe(false)
  })

  it('does not take an internal node for a leaf (domain separation)', () => {
    const left = tree.root(2)
    const right = nodeHash(tree.leafHash(2), tree.leafHash(3))
    // The 64 bytes of an internal node, presented as a leaf entry, hash to something else.
    expect(leafHash(Buffer.concat([left, right])).equals(tree.root(4))).toBe(false)
    expect(verifyInclusion(0, 1, leafHash(Buffer.concat([left, right])), [], tree.root(4))).toBe(false)
  })

  it('agrees with the recursive definition, and its proofs verify, for random trees', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 70 }), fc.nat(), fc.nat(), (n, a, b) => {
      const leaves = Array.from({ length: n }, () => randomBytes(32))
      const t = MerkleTree.fromLeafHashes(leaves)
      const size = 1 + (a % n)
      const index = b % size
      const from = b % (size + 1)
      expect(t.root(size).equals(referenceRoot(leaves.slice(0, size)))).toBe(true)
      expect(verifyInclusion(index, size, leaves[index]!, t.inclusionProof(index, size), t.root(size))).toBe(true)
      expect(verifyConsistency(from, size, t.root(from), t.root(size), t.consistencyProof(from, size))).toBe(true)
      if (from > 0 && from < size) {
        // A rewritten history (any earlier leaf changed) is never consistent.
        const forged = MerkleTree.fromLeafHashes(leaves.map((l, i) => (i === index % from ? randomBytes(32) : l)))
        expect(verifyConsistency(from, size, forged.root(from), t.root(size), t.consistencyProof(from, size))).toBe(false)
      }
    }), { numRuns: 300 })
  })
})
