/** Runs `tessera up` as a real child process (the built CLI in dist/), for crash and smoke tests. */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { ADMIN_TOKEN, WRITE_KEY } from './tessera-harness.js'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const BIN = fileURLToPath(new URL('../../bin/tessera.js', import.meta.url))

export interface ServerProcess {
  readonly child: ChildProcess
  readonly url: string
  /** Everything the process wrote to stderr so far. */
  stderr(): string
  kill(signal: NodeJS.Signals): Promise<number | null>
}

export function assertBuilt(): void {
  if (!existsSync(new URL('../../dist/cli/main.js', import.meta.url))) {
    throw new Error('dist/ is missing: run `npm run build` (npm test does it) before the process tests')
  }
}

/**
 * Extra node flags for the server process from `TESSERA_SERVER_NODE_ARGS` (space-separated), e.g.
 * `--cpu-prof --cpu-prof-dir=.tmp/prof` to profile the server of a benchmark (node refuses --cpu-prof in NODE_OPTIONS).
 */
function serverNodeArgs(): string[] {
  return (process.env.TESSERA_SERVER_NODE_ARGS ?? '').split(' ').filter((a) => a !== '')
}

export async function startServerProcess(dataDir: string, env: Record<string, string> = {}, args: readonly string[] = []): Promise<ServerProcess> {
  assertBuilt()
  const child = spawn(process.execPath, [...serverNodeArgs(), BIN, 'up', ...args], {
    cwd: ROOT,
    env: {
      ...process.env, TESSERA_PORT: '0', TESSERA_HOST: '127.0.0.1', TESSERA_DATA_DIR: dataDir,
      TESSERA_WRITE_KEY: WRITE_KEY, TESSERA_ADMIN_TOKEN: ADMIN_TOKEN, TESSERA_LOG_LEVEL: 'warn', ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let err = ''
  child.stdout!.on('data', () => undefined)
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tessera up did not start within 20 s:\n${err}`)), 20_000)
    child.stderr!.on('data', (chunk: Buffer) => {
      err += chunk.toString()
      const m = /running at (http:\/\/[^\s]+)/.exec(err)
      if (m) {
        clearTimeout(timer)
        resolve(m[1]!)
      }
    })
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`tessera up exited with ${code}:\n${err}`))
    })
  })
  return {
    child, url,
    stderr: () => err,
    async kill(signal) {
      child.kill(signal)
      return exited
    },
  }
}
