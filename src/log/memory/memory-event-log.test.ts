import { runEventLogContract } from '../event-log.contract.js'
import { MemoryEventLog } from './memory-event-log.js'

runEventLogContract('memory', async () => {
  const log = new MemoryEventLog()
  return { log, cleanup: () => log.close() }
})
