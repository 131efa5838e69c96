import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { TesseraError } from '../../core/errors.js'
import { type EmbeddedEventLog, openEmbeddedEventLog } from './embedded-event-log.js'

const WAIT_LIMIT_MS = 20_000
const MODULE = new URL('./embedded-event-log.ts', import.meta.url).href

/** Runs `body` (ES module code with `openEmbeddedEventLog` and `path` in scope) in a child Node process. */
function runChild(path: string, body: string): ChildProcess {
  const code = `const { openEmbeddedEventLog } = await import(${JSON.stringify(MODULE)})
const path = ${JSON.stringify(path)}
${body}`
  return spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'pipe'] })
}

function output(child: ChildProcess): { readonly text: () => string } {
  let text = ''
  child.stdout!.on('data', (chunk: Buffer) => (text += chunk.toString()))
  child.stderr!.on('data', (chunk: Buffer) => (text += chunk.toString()))
  return { text: () => text }
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_LIMIT_MS
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

function exitOf(child: ChildProcess): Promise<number | string | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode ?? child.signalCode)
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)))
}

async function lockedError(promise: Promise<unknown>): Promise<TesseraError> {
  const error = await promise.then(() => undefined, (e: unknown) => e)
  expect(error).toBeInstanceOf(TesseraError)
  expect((error as TesseraError).code).toBe('TESSERA_LOCKED')
  return error as TesseraError
}

describe('the appender lock', () => {
  let dir: string
  let path: string
  const opened: EmbeddedEventLog[] = []
  const children: ChildProcess[] = []

  async function open(readOnly = false): Promise<EmbeddedEventLog> {
    const log = await openEmbeddedEventLog({ path, sync: 'normal', maxPendingBytes: 1 << 20, readOnly })
    opened.push(log)
    return log
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-log-'))
    path = join(dir, 'log.db')
  })

  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exitOf(child)
    }
    await Promise.all(opened.splice(0).map((log) => log.close()))
    rmSync(dir, { recursive: true, force: true })
  })

  it('refuses a second appender in the same process, naming the holder, but not readers', async () => {
    const first = await open()
    const error = await lockedError(open())
    expect(error.message).toContain(`process ${process.pid}`)
    const reader = await open(true)
    await first.ensureTopic('t', 1)
    await first.append('t', [{ key: 'k', value: 'v' }])
    expect(await reader.read('t', 0, 0, 10)).toHaveLength(1)
    await first.close()
    // Closing releases the lock.
    const next = await open()
    expect((await next.append('t', [{ key: 'k', value: 'w' }])).positions).toEqual([{ topic: 't', partition: 0, offset: 1 }])
  })

  it('refuses an appender while another process holds the lock, and takes over once that process died', async () => {
    const child = runChild(path, `
const log = await openEmbeddedEventLog({ path, sync: 'full', maxPendingBytes: 1 << 20 })
await log.ensureTopic('t', 1)
await log.append('t', [{ key: 'k', value: 'from the crashed process' }])
process.stdout.write('ready\\n')
setInterval(() => undefined, 1000)
`)
    children.push(child)
    const out = output(child)
    await until(() => out.text().includes('ready') || child.exitCode !== null, `the child to open the log (${out.text()})`)
    expect(out.text()).toContain('ready')

    const error = await lockedError(open())
    expect(error.message).toContain(`process ${child.pid}`)

    // A crash leaves the lock file behind, but not the lock: the kernel released it with the process.
    child.kill('SIGKILL')
    await exitOf(child)
    const log = await open()
    expect((await log.read('t', 0, 0, 10)).map((r) => r.value)).toEqual(['from the crashed process'])
    expect((await log.append('t', [{ key: 'k', value: 'after' }])).positions).toEqual([{ topic: 't', partition: 0, offset: 1 }])
  })

  it('leaves nothing running after close(), so a process exits by itself', async () => {
    const child = runChild(path, `
const log = await openEmbeddedEventLog({ path, sync: 'full', maxPendingBytes: 1 << 20 })
const reader = await openEmbeddedEventLog({ path, sync: 'full', maxPendingBytes: 0, readOnly: true })
await log.ensureTopic('t', 2)
const consumer = reader.createConsumer({ group: 'g', topic: 't', maxWaitMs: 50 })
let seen = 0
const running = consumer.run(async (batch) => { seen += batch.records.length })
await log.append('t', [{ key: 'a', value: '1' }, { key: 'b', value: '2' }])
while (seen < 2) await new Promise((resolve) => setTimeout(resolve, 10))
await consumer.stop()
await running
await reader.close()
await log.close()
process.stdout.write('closed\\n')
`)
    children.push(child)
    const out = output(child)
    const code = await Promise.race([exitOf(child), new Promise<string>((resolve) => setTimeout(() => resolve('still running'), WAIT_LIMIT_MS))])
    expect(out.text()).toContain('closed')
    expect(code).toBe(0)
  })
})
