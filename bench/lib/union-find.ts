/** @module A small union-find over string keys (path halving, union by size), the ground truth of generated identity graphs. */

export class UnionFind {
  readonly #parent = new Map<string, string>()
  readonly #size = new Map<string, number>()

  add(key: string): void {
    if (!this.#parent.has(key)) {
      this.#parent.set(key, key)
      this.#size.set(key, 1)
    }
  }

  find(key: string): string {
    this.add(key)
    let x = key
    for (;;) {
      const parent = this.#parent.get(x)!
      if (parent === x) return x
      const grand = this.#parent.get(parent)!
      this.#parent.set(x, grand)
      x = grand
    }
  }

  union(a: string, b: string): void {
    let ra = this.find(a)
    let rb = this.find(b)
    if (ra === rb) return
    if (this.#size.get(ra)! < this.#size.get(rb)!) [ra, rb] = [rb, ra]
    this.#parent.set(rb, ra)
    this.#size.set(ra, this.#size.get(ra)! + this.#size.get(rb)!)
  }

  keys(): IterableIterator<string> {
    return this.#parent.keys()
  }

  /** Key → representative of its set. */
  partition(): Map<string, string> {
    const out = new Map<string, string>()
    for (const key of this.#parent.keys()) out.set(key, this.find(key))
    return out
  }
}
