/**
 * @module Picks how profiles are kept (composition root): with a keyring, through ProfileSealing
 * (src/profiles/profile-sealing.ts), sealing what is written when `governance.encryption.enabled` and opening what
 * was sealed either way; without one (encryption never on), in clear as they are.
 */
import type { TesseraConfig } from '../config/config.js'
import { createClassifier } from '../governance/classification.js'
import type { Keyring } from '../governance/crypto/keyring.js'
import { ProfileSealing } from '../profiles/profile-sealing.js'

export function openProfileSealing(config: TesseraConfig, keyring: Keyring | null): ProfileSealing | null {
  if (keyring === null) return null
  return new ProfileSealing({ keyring, classifier: createClassifier(config.governance.classification), seal: config.governance.encryption.enabled })
}
