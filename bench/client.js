/** Client SDK: stamps per second in Node, per alg (jose signing through WebCrypto). */
import { exportJWK, generateKeyPair, generateSecret } from 'jose';
import { createStamper } from '../dist/client/index.js';
import { opsPerSecond } from './measure.js';

export async function measureClient({ quick = false } = {}) {
  const count = quick ? 1_000 : 5_000;
  const out = {};
  for (const alg of ['HS256', 'ES256', 'EdDSA']) {
    const key =
      alg === 'HS256'
        ? await exportJWK(await generateSecret(alg, { extractable: true }))
        : await exportJWK((await generateKeyPair(alg, { extractable: true, crv: alg === 'EdDSA' ? 'Ed25519' : undefined })).privateKey);
    const stamper = createStamper({ key: { ...key, kid: 'bench', alg }, ip: '192.0.2.7' });
    await opsPerSecond(() => stamper.stamp({ method: 'GET', url: 'https://api.example.com/orders' }), 200);
    out[alg] = await opsPerSecond(() => stamper.stamp({ method: 'GET', url: 'https://api.example.com/orders' }), count);
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) console.table(await measureClient({ quick: process.argv.includes('--quick') }));
