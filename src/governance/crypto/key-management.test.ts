import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { requireSoftHsm, TOKEN_PIN } from '../../../test/support/softhsm.js'
import { runKmsContract } from './key-management.contract.js'
import { LocalKeyFile } from './local-key-file.js'
import { Pkcs11Kms, type Pkcs11Config } from './pkcs11-kms.js'

runKmsContract('local key file', async () => {
  const [a, b, c] = [randomBytes(32), randomBytes(32), randomBytes(32)]
  return {
    first: LocalKeyFile.fromKeys(a, [], 'test'),
    rotated: async () => LocalKeyFile.fromKeys(b, [a], 'test'),
    stranger: async () => LocalKeyFile.fromKeys(c, [], 'test'),
    cleanup: async () => undefined,
  }
})

const hsm = await requireSoftHsm()

if (hsm) {
  // Tokens are made before the module is first initialised in this process (it lists them then).
  hsm.initToken('contract')
  hsm.initToken('other')
  const env = { TESSERA_PKCS11_PIN: TOKEN_PIN }
  let n = 0
  runKmsContract('PKCS#11 (SoftHSM2)', async () => {
    const run = ++n
    const base = { library: hsm.library, token: 'contract' }
    for (const label of [`a-${run}`, `b-${run}`]) await Pkcs11Kms.createKey(base, label, env)
    await Pkcs11Kms.createKey({ library: hsm.library, token: 'other' }, `c-${run}`, env)
    const opened: Pkcs11Kms[] = []
    const open = async (config: Pkcs11Config): Promise<Pkcs11Kms> => {
      const kms = await Pkcs11Kms.open(config, env)
      opened.push(kms)
      return kms
    }
    return {
      first: await open({ ...base, keyLabel: `a-${run}` }),
      rotated: () => open({ ...base, keyLabel: `b-${run}`, retiredKeyLabels: [`a-${run}`] }),
      stranger: () => open({ library: hsm.library, token: 'other', keyLabel: `c-${run}` }),
      cleanup: async () => { for (const k of opened) await k.close() },
    }
  })

  describe('Pkcs11Kms: what an operator gets wrong gets a clear error', () => {
    const base = { library: hsm.library, token: 'contract' }
    it('names a missing PIN, a wrong PIN, an unknown token, a missing key and a reused label', async () => {
      await expect(Pkcs11Kms.open({ ...base, keyLabel: 'x' }, {})).rejects.toThrow(/TESSERA_PKCS11_PIN/)
      await expect(Pkcs11Kms.open({ ...base, keyLabel: 'x', pinEnv: 'MY_PIN' }, { MY_PIN: 'wrong' })).rejects.toThrow(/refused the PIN in MY_PIN/)
      await expect(Pkcs11Kms.open({ ...base, token: 'nope', keyLabel: 'x' }, env)).rejects.toThrow(/no token labelled "nope".*"contract"/)
      await expect(Pkcs11Kms.open({ ...base, keyLabel: 'never-made' }, env)).rejects.toThrow(/no AES key labelled "never-made".*create-master/)
      await Pkcs11Kms.createKey(base, 'once', env)
      await expect(Pkcs11Kms.createKey(base, 'once', env)).rejects.toThrow(/already/)
      await expect(Pkcs11Kms.open({ library: '/nonexistent/libpkcs11.so', token: 'contract', keyLabel: 'once' }, env)).rejects.toThrow(/cannot load the PKCS#11 module/)
    })

    it('unwraps nothing after close', async () => {
      await Pkcs11Kms.createKey(base, 'closing', env)
      const kms = await Pkcs11Kms.open({ ...base, keyLabel: 'closing' }, env)
      const w = await kms.wrap(randomBytes(32), Buffer.from('aad'))
      await kms.close()
      await expect(kms.unwrap(w, Buffer.from('aad'))).rejects.toThrow(/closed/)
    })
  })
}
