/**
 * @module `tessera openapi [--out FILE]`: prints the OpenAPI document generated from the route schemas
 * (the same one served at /docs/json). `docs/openapi.json` is this output; a test keeps it current.
 */
import { writeFileSync } from 'node:fs'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { pino } from 'pino'
import { loadConfig } from '../config/config.js'
import { startTessera } from '../app/tessera.js'

export async function openApiDocument(): Promise<unknown> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-openapi-'))
  const env = { TESSERA_WRITE_KEY: 'openapi-placeholder-key', TESSERA_ADMIN_TOKEN: 'openapi-placeholder-token' }
  try {
    const config = loadConfig({ env, overrides: { dataDir: dir, log: { kind: 'memory' }, pipeline: { worker: false } } })
    const tessera = await startTessera(config, { env, listen: false, logger: pino({ level: 'silent' }) })
    await tessera.app.ready()
    const doc = tessera.app.swagger()
    await tessera.close()
    return doc
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

export async function runOpenApi(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({ args: [...argv], options: { out: { type: 'string' } } })
  const text = JSON.stringify(await openApiDocument(), null, 2) + '\n'
  if (values.out) writeFileSync(values.out, text)
  else process.stdout.write(text)
  return 0
}
