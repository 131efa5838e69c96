import { describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { tempDir } from '../../test/support/factories.js'
import { acquireProcessLock } from './process-lock.js'

describe('acquireProcessLock', () => {
  it('refuses a second holder, names the first, and is free again after release', () => {
    const { dir, cleanup } = tempDir()
    const path = join(dir, 'tessera.lock')
    const first = acquireProcessLock(path, 'tessera up')
    expect(() => acquireProcessLock(path, 'tessera replay')).toThrow(new RegExp(`in use by process ${process.pid} \\(tessera up\\)`))
    first.release()
    acquireProcessLock(path, 'tessera replay').release()
    cleanup()
  })

  it('is released by the kernel when the holder is killed with SIGKILL', async () => {
    const { dir, cleanup } = tempDir()
    const path = join(dir, 'tessera.lock')
    const script = `const D = require('better-sqlite3'); const db = new D(${JSON.stringify(path)}); db.exec('BEGIN EXCLUSIVE'); console.log('locked'); setInterval(() => {}, 1000)`
    const child = spawn(process.execPath, ['-e', script], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] })
    await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()))
    expect(() => acquireProcessLock(path, 'test')).toThrow(/in use/)
    const exited = new Promise((r) => child.once('exit', r))
    child.kill('SIGKILL')
    await exited
    acquireProcessLock(path, 'test').release()
    cleanup()
  })
})
