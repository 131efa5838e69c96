/** @module `tessera up`: starts Tessera on the configured adapters and prints how to reach it. */
import { parseArgs } from 'node:util'
import { loadConfig } from '../config/config.js'
import { credentialsPath } from '../config/credentials.js'
import { ROLES, startTessera, type Role } from '../app/tessera.js'

const HELP = `Usage: tessera up [--port N] [--data-dir DIR] [--config FILE] [--role all|ingest|pipeline]

Runs the tracking API, the admin API and the pipeline. Data goes to ./data unless configured.
Without TESSERA_WRITE_KEY / TESSERA_ADMIN_TOKEN, credentials are generated on first start and kept in
<data-dir>/credentials.json.

--role ingest runs only the tracking and admin APIs, --role pipeline only the pipeline (with health,
metrics and the admin API); any number of pipeline processes share the work through one Kafka consumer
group. Roles need the scale-out mode: TESSERA_LOG=kafka TESSERA_KAFKA_BROKERS=host:port,...
TESSERA_STORE=postgres TESSERA_DATABASE_URL=postgres://...`

export async function runUp(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      port: { type: 'string' }, 'data-dir': { type: 'string' }, config: { type: 'string' }, role: { type: 'string', default: 'all' },
      help: { type: 'boolean' },
    },
  })
  if (values.help) {
    console.log(HELP)
    return 0
  }
  const config = loadConfig({
    ...(values.config ? { file: values.config } : {}),
    overrides: {
      ...(values.port ? { port: Number(values.port) } : {}),
      ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}),
    },
  })
  const role = values.role as Role
  if (!(ROLES as readonly string[]).includes(role)) {
    console.error(`tessera up: --role must be one of ${ROLES.join(', ')}\n\n${HELP}`)
    return 1
  }
  const tessera = await startTessera(config, { role })
  const stored = credentialsPath(tessera.layout.dataDir)
  const defaultSource = tessera.auth.sources.find((s) => s.id === 'default')
  const lines = [
    '',
    `  Tessera is running at ${tessera.url}${role === 'all' ? '' : ` (role ${role})`}`,
    `  data dir        ${tessera.layout.dataDir}`,
    `  tracking API    POST ${tessera.url}/v1/batch (Segment HTTP API; write key as Basic username)`,
    `  admin API       GET  ${tessera.url}/v1/profiles?identifier=email:... (Bearer admin token)`,
    `  API docs        ${tessera.url}/docs`,
  ]
  if (tessera.credentialsCreated) {
    lines.push('', `  New credentials were generated and saved in ${stored} (mode 0600):`)
    for (const s of tessera.auth.sources) lines.push(`    write key (${s.id})`.padEnd(26) + s.writeKeys[0])
    const token = tessera.auth.adminTokens.find((t) => t.name === 'generated')
    if (token) lines.push(`    admin token`.padEnd(26) + token.token)
  } else {
    lines.push(`  write key       ${defaultSource ? '(default source) ' + defaultSource.writeKeys[0] : 'see your config'}`)
    lines.push(`  admin token     in ${process.env.TESSERA_ADMIN_TOKEN ? 'TESSERA_ADMIN_TOKEN' : stored}`)
  }
  lines.push('', '  Try: npx tessera demo', '')
  // Printed to the terminal of whoever started Tessera, never to the structured log.
  process.stderr.write(lines.join('\n') + '\n')

  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      process.stderr.write(`\n  ${signal}: stopping (finishing the current batch)...\n`)
      resolve()
    }
    process.once('SIGINT', () => stop('SIGINT'))
    process.once('SIGTERM', () => stop('SIGTERM'))
  })
  await tessera.close()
  return 0
}
