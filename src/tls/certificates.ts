import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';

/** Who a process is, as its certificate says; each RPC states which of these may call it (roles.ts). */
export const ROLES = ['replica', 'manager', 'feed', 'client', 'operator', 'injector'] as const;
export type Role = (typeof ROLES)[number];

/**
 * A role is a URI subject alternative name, `hedge-role:<role>`: a certificate may
 * hold several (a benchmark is client, operator and injector at once), and Node
 * shows every SAN of a peer's certificate in one string, so the check needs no
 * ASN.1 parsing of a custom extension (docs/decisions.md, issue 14).
 */
const ROLE_URI_PREFIX = 'hedge-role:';

export interface KeyAndCertificate {
  /** PEM: the certificate. */
  cert: string;
  /** PEM: its private key (PKCS#1). */
  key: string;
}

export interface IssueOptions {
  roles: readonly Role[];
  /** DNS names and IP addresses the holder serves at (subject alternative names). */
  hosts: readonly string[];
  notBefore?: Date;
  notAfter?: Date;
}

const CA_YEARS = 10;
const CERT_YEARS = 2;

/** The hosts every certificate names: a process on one host is reached over loopback. */
export const LOOPBACK_HOSTS = ['127.0.0.1', '::1', 'localhost'];

/**
 * RSA keys by Node's own crypto (native, milliseconds); forge only builds and signs the
 * certificates. The key is written out as Node encoded it (`pem`): forge's own encoding of
 * it now and then pads an integer with a zero byte, which OpenSSL 3 refuses ("illegal
 * padding"; seen once in a clean-clone test run).
 */
function newKeyPair(): forge.pki.rsa.KeyPair & { pem: string } {
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const key = forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey;
  return { privateKey: key, publicKey: forge.pki.setRsaPublicKey(key.n, key.e), pem: privateKey };
}

function yearsAfter(date: Date, years: number): Date {
  const later = new Date(date);
  later.setFullYear(later.getFullYear() + years);
  return later;
}

function serialNumber(): string {
  // 16 bytes, DER-minimal and positive: the first byte 0x01–0x7f (no sign bit, no zero padding).
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] as number) & 0x7f || 0x01;
  return bytes.toString('hex');
}

/** A new certificate authority: a self-signed CA certificate and its key. */
export function createAuthority(commonName = 'hedge CA'): KeyAndCertificate {
  const keys = newKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serialNumber();
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = yearsAfter(new Date(), CA_YEARS);
  const subject = [
    { name: 'commonName', value: commonName },
    { name: 'organizationName', value: 'hedge' },
  ];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: keys.pem };
}

/** A certificate for `roles` at `hosts`, signed by `authority`, good for client and server use alike. */
export function issueCertificate(authority: KeyAndCertificate, options: IssueOptions): KeyAndCertificate {
  if (options.roles.length === 0) throw new Error('a certificate needs at least one role');
  const caCert = forge.pki.certificateFromPem(authority.cert);
  const caKey = forge.pki.privateKeyFromPem(authority.key);
  const keys = newKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serialNumber();
  const notBefore = options.notBefore ?? new Date(Date.now() - 60_000);
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = options.notAfter ?? yearsAfter(new Date(), CERT_YEARS);
  cert.setSubject([
    { name: 'commonName', value: `hedge ${options.roles.join('+')}` },
    { name: 'organizationName', value: 'hedge' },
  ]);
  cert.setIssuer(caCert.subject.attributes);
  const hosts = [...new Set(options.hosts)];
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    {
      name: 'subjectAltName',
      altNames: [
        ...hosts.map((h) => (isIP(h) ? { type: 7, ip: h } : { type: 2, value: h })),
        ...options.roles.map((r) => ({ type: 6, value: `${ROLE_URI_PREFIX}${r}` })),
      ],
    },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: keys.pem };
}

/**
 * The roles a certificate's subject alternative names give, from Node's one-line
 * form of them ("DNS:localhost, URI:hedge-role:client", as tls.PeerCertificate and
 * X509Certificate both show it). Anything not a known role is ignored.
 */
export function rolesInAltNames(subjectAltName: string | undefined): Role[] {
  if (!subjectAltName) return [];
  const roles: Role[] = [];
  for (const entry of subjectAltName.split(', ')) {
    if (!entry.startsWith(`URI:${ROLE_URI_PREFIX}`)) continue;
    const role = entry.slice(`URI:${ROLE_URI_PREFIX}`.length);
    if ((ROLES as readonly string[]).includes(role)) roles.push(role as Role);
  }
  return roles;
}

/** The roles a PEM certificate holds. */
export function rolesOfCertificate(pem: string): Role[] {
  return rolesInAltNames(new X509Certificate(pem).subjectAltName);
}
