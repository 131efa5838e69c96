/**
 * @module A pid lock file on the data dir, so that `replay` never rebuilds state under a running `up`, and
 * two `up` processes never share one data dir. A lock left by a dead process is taken over.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { TesseraError } from '../core/errors.js'

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export interface ProcessLock {
  release(): void
}

export function acquireProcessLock(path: string, purpose: string): ProcessLock {
  mkdirSync(dirname(path), { recursive: true })
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, `${process.pid}\n${purpose}\n`, { flag: 'wx' })
      return {
        release: () => {
          try {
            if (readFileSync(path, 'utf8').startsWith(`${process.pid}\n`)) rmSync(path)
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
          }
        },
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const [pidText, holder] = readFileSync(path, 'utf8').split('\n')
      const pid = Number(pidText)
      if (Number.isInteger(pid) && pid !== process.pid && alive(pid)) {
        throw new TesseraError('TESSERA_LOCKED', `the data dir is in use by process ${pid} (${holder ?? 'unknown'}); stop it first, or use another --data-dir`)
      }
      rmSync(path, { force: true }) // stale: its process is gone
    }
  }
  throw new TesseraError('TESSERA_LOCKED', `could not take the lock ${path}`)
}
