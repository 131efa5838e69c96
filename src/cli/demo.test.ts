import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { runDemo, type DemoIo } from './demo.js'

let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-demo-'))
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

function capture(env: Record<string, string> = {}): DemoIo & { out: () => string; err: () => string } {
  let out = ''
  let err = ''
  return { stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (err += t) }, env, out: () => out, err: () => err }
}

// The full run (send, wait for the pipeline, show profiles) needs a real Tessera: it is the end-to-end test's job.
describe('runDemo, before sending anything', () => {
  it('prints usage on bad arguments and on --help', async () => {
    const io = capture()
    expect(await runDemo(['--people', 'many'], io)).toBe(1)
    expect(io.err()).toMatch(/--people must be a whole number[\s\S]*Usage: tessera demo/)
    const help = capture()
    expect(await runDemo(['--help'], help)).toBe(0)
    expect(help.out()).toMatch(/^Usage: tessera demo/)
  })

  it('says how to get credentials when there are none', async () => {
    const io = capture()
    expect(await runDemo(['--data-dir', dir, '--url', 'http://127.0.0.1:9'], io)).toBe(1)
    expect(io.err()).toMatch(/credentials\.json does not exist\. Start the server once with `tessera up`/)
  })

  it('fails fast when nothing listens, without printing keys', async () => {
    writeFileSync(join(dir, 'credentials.json'), JSON.stringify({
      writeKeys: { default: 'wk_default_secret_1', web: 'wk_web_secret_1' }, adminToken: 'tsa_secret_token_123',
    }))
    const probe = createServer()
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
    const { port } = probe.address() as { port: number }
    await new Promise<void>((resolve) => probe.close(() => resolve()))
    const io = capture()
    const started = Date.now()
    expect(await runDemo(['--data-dir', dir, '--url', `http://127.0.0.1:${port}`], io)).toBe(1)
    expect(Date.now() - started).toBeLessThan(5_000)
    expect(io.err()).toMatch(/cannot reach Tessera at http:\/\/127\.0\.0\.1:\d+ .*ECONNREFUSED.*Start it with `tessera up`/)
    expect(io.err() + io.out()).not.toMatch(/secret/)
  })
})
