import { rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { exportJWK, generateKeyPair, generateSecret } from 'jose';
import { HMAC_ALGS, kidSchema, STAMP_ALGS, type StampAlg } from '../../../shared/schema.js';
import { compileVerifierKey } from '../../verify/key-source.js';
import { nodePlatform } from '../../verify/node-platform.js';
import { choiceFlag, listFlag, requiredStringFlag, stringFlag, trustFlag } from '../flag-values.js';
import { checkDestination, commitJwksAddition, prepareJwksAddition } from '../jwks-file.js';
import { parseFlags } from '../parse-flags.js';
import { UsageError } from '../usage-error.js';

export const usage = `Usage: ipstamp keygen --alg ALG --kid KID [--allowed-ips CIDRS] [--out FILE] [--jwks FILE]

Makes a client key. The private JWK (with kid and alg) goes to stdout, or to --out (mode 0600,
never overwriting). The public JWK — for HS*, the secret itself — is added to the verifier's
JWK Set --jwks (created if absent; other keys kept; a kid already there is refused; two
keygens adding to one set take turns through its lock file, .NAME.ipstamp-lock).
Both destinations are checked (directory exists and is writable, --out is new, the two
differ) before anything is written.

  --alg ALG             ${STAMP_ALGS.join(', ')}
  --kid KID             1–128 characters of [A-Za-z0-9._:-]
  --allowed-ips CIDRS   addresses this key may attest (comma-separated or repeated)
  --out FILE            write the private JWK here instead of stdout
  --jwks FILE           add the public JWK to this JWK Set file
`;

const FLAGS = {
  alg: { type: 'string' },
  kid: { type: 'string' },
  'allowed-ips': { type: 'string', multiple: true },
  out: { type: 'string' },
  jwks: { type: 'string' },
} as const;

type Jwk = Record<string, unknown>;

/** A fresh extractable key: the client's private JWK and the verifier's public one. */
async function generate(alg: StampAlg, kid: string): Promise<{ privateJwk: Jwk; publicJwk: Jwk }> {
  if ((HMAC_ALGS as readonly string[]).includes(alg)) {
    const secret = { ...(await exportJWK(await generateSecret(alg, { extractable: true }))), kid, alg };
    return { privateJwk: secret, publicJwk: { ...secret } };
  }
  const okp = alg === 'EdDSA' || alg === 'Ed25519';
  const pair = await generateKeyPair(okp ? 'EdDSA' : alg, { extractable: true, ...(okp && { crv: 'Ed25519' }) });
  return {
    privateJwk: { ...(await exportJWK(pair.privateKey)), kid, alg },
    publicJwk: { ...(await exportJWK(pair.publicKey)), kid, alg },
  };
}

function writePrivateKey(path: string, jwk: Jwk): void {
  try {
    writeFileSync(path, `${JSON.stringify(jwk, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'unwritable';
    throw new UsageError(code === 'EEXIST' ? `--out ${path}: exists; refusing to overwrite a key` : `--out ${path}: cannot write (${code})`);
  }
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, FLAGS);
  requiredStringFlag(values, 'alg', STAMP_ALGS.join('|'));
  const alg = choiceFlag(values, 'alg', STAMP_ALGS)!;
  const kid = requiredStringFlag(values, 'kid', 'KID');
  if (!kidSchema.safeParse(kid).success) throw new UsageError('--kid must be 1–128 characters of [A-Za-z0-9._:-]');
  const allowedIps = listFlag(values, 'allowed-ips');
  if (allowedIps) trustFlag(allowedIps, 'allowed-ips');
  const out = stringFlag(values, 'out');
  const jwksPath = stringFlag(values, 'jwks');
  // everything that can refuse does so before anything is written: a key whose public half
  // never reached the JWK Set is a key nobody can use
  if (out !== undefined && jwksPath !== undefined && resolve(out) === resolve(jwksPath)) {
    throw new UsageError('--out and --jwks name the same file; the private key and the JWK Set need one each');
  }
  if (out !== undefined) checkDestination(out, '--out', 'refuse');
  const edit = jwksPath === undefined ? undefined : prepareJwksAddition(jwksPath, kid);

  const { privateJwk, publicJwk } = await generate(alg, kid);
  if (allowedIps) publicJwk.allowed_ips = allowedIps;
  compileVerifierKey(publicJwk, 'generated key', nodePlatform); // what the verifier will load, loaded once here

  const secret = (HMAC_ALGS as readonly string[]).includes(alg);
  if (out !== undefined) writePrivateKey(out, privateJwk);
  if (edit) {
    let count: number;
    try {
      count = await commitJwksAddition(edit, publicJwk);
    } catch (error) {
      // the set could not take the public half after all (another keygen took the kid, a full disk): take back the private half
      if (out !== undefined) rmSync(out, { force: true });
      throw error;
    }
    if (out !== undefined) process.stderr.write(`ipstamp keygen: private key "${kid}" written to ${out} (mode 0600)\n`);
    process.stderr.write(`ipstamp keygen: ${secret ? 'secret' : 'public'} key "${kid}" added to ${edit.path} (${count} key${count === 1 ? '' : 's'})\n`);
  } else {
    if (out !== undefined) process.stderr.write(`ipstamp keygen: private key "${kid}" written to ${out} (mode 0600)\n`);
    if (!secret) process.stderr.write(`ipstamp keygen: public JWK for the verifier's JWK Set:\n${JSON.stringify(publicJwk)}\n`);
  }
  if (out === undefined) process.stdout.write(`${JSON.stringify(privateJwk, null, 2)}\n`);
  if (secret) {
    process.stderr.write(
      `ipstamp keygen: warning: ${alg} is a shared secret — the verifier's JWK Set holds the secret itself. Keep both files private; never ship it to a browser (use ES256 or EdDSA there).\n`,
    );
  }
  return 0;
}
