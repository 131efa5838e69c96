#!/usr/bin/env node
// Thin launcher: the CLI is compiled TypeScript in dist/ (built by `npm install` via `prepare`).
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const entry = new URL('../dist/cli/main.js', import.meta.url)
if (!existsSync(fileURLToPath(entry))) {
  console.error('tessera: dist/ is missing. Run `npm install` (or `npm run build`) in the Tessera folder first.')
  process.exit(1)
}
const { main } = await import(entry.href)
process.exitCode = await main(process.argv.slice(2))
