/**
 * SoftHSM2 for the PKCS#11 tests: a software token implementing PKCS#11 (Debian package `softhsm2`), in a token
 * directory of the test's own. Like the other services: missing, the tests skip with a message; with
 * `TESSERA_REQUIRE_SERVICES=1` (CI) a missing SoftHSM fails the run.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from './factories.js'

export const SOFTHSM_LIBRARY = '/usr/lib/softhsm/libsofthsm2.so'
export const TOKEN_PIN = '4711-test-pin'

export interface SoftHsm {
  readonly library: string
  /** The SOFTHSM2_CONF of this token directory (also set in this process's environment). */
  readonly conf: string
  /** Initialises a new token under `label` (user PIN {@link TOKEN_PIN}). */
  initToken(label: string): void
  cleanup(): void
}

/**
 * A SoftHSM2 token directory for this test file, or null (after saying why) when SoftHSM2 or pkcs11js is missing
 * and services are not required. Sets SOFTHSM2_CONF in this process: the module reads it once, at initialisation.
 */
export async function requireSoftHsm(): Promise<SoftHsm | null> {
  const missing = !existsSync(SOFTHSM_LIBRARY) ? `SoftHSM2 is not installed (${SOFTHSM_LIBRARY})`
    : await import('pkcs11js').then(() => null, (error: Error) => `the optional package pkcs11js is not installed or did not build (${error.message})`)
  if (missing !== null) {
    if (process.env.TESSERA_REQUIRE_SERVICES === '1') throw new Error(`${missing}; TESSERA_REQUIRE_SERVICES=1 requires it`)
    console.warn(`${missing}: skipping the PKCS#11 tests. Install it with \`apt-get install -y softhsm2\` and \`npm install\`.`)
    return null
  }
  const dir = tempDir('tessera-softhsm-')
  const tokens = join(dir.dir, 'tokens')
  mkdirSync(tokens)
  const conf = join(dir.dir, 'softhsm2.conf')
  writeFileSync(conf, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\n`)
  process.env.SOFTHSM2_CONF = conf
  return {
    library: SOFTHSM_LIBRARY,
    conf,
    initToken(label) {
      execFileSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--pin', TOKEN_PIN, '--so-pin', `${TOKEN_PIN}-so`], {
        env: { ...process.env, SOFTHSM2_CONF: conf }, stdio: 'pipe',
      })
    },
    cleanup: () => dir.cleanup(),
  }
}
