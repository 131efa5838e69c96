// The two codec libraries ship no type declarations; these are the calls codecs.ts makes.
declare module 'lz4js' {
  /** Decodes one raw LZ4 block of `sLength` bytes at `src[sIndex]` into `dst` from `dIndex`; returns the end index in `dst`. */
  export function decompressBlock(src: Uint8Array, dst: Uint8Array, sIndex: number, sLength: number, dIndex: number): number
  const lz4: { decompressBlock: typeof decompressBlock }
  export default lz4
}

declare module 'snappyjs' {
  /** Decodes one raw snappy block. */
  export function uncompress(compressed: Uint8Array, maxLength?: number): Uint8Array
  const snappy: { uncompress: typeof uncompress }
  export default snappy
}
