import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestCertificate {
  /** PEM paths in `dir`: the certificate, its key, and both in one file (what HAProxy wants). */
  readonly certFile: string;
  readonly keyFile: string;
  readonly bundleFile: string;
  /** The certificate's PEM text: the CA a client must trust. */
  readonly certPem: string;
}

/** A self-signed P-256 certificate for 127.0.0.1, valid a day, made with the real `openssl`. */
export function makeTestCertificate(openssl: string, dir: string): TestCertificate {
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  const bundleFile = join(dir, 'bundle.pem');
  const subject = ['-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'];
  const curve = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
  execFileSync(openssl, ['req', '-x509', ...curve, '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', ...subject], { stdio: 'ignore' });
  const certPem = readFileSync(certFile, 'utf8');
  writeFileSync(bundleFile, certPem + readFileSync(keyFile, 'utf8'));
  return { certFile, keyFile, bundleFile, certPem };
}
