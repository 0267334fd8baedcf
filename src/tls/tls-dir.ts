import { randomBytes } from 'node:crypto';
import {
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import {
  createAuthority,
  issueCertificate,
  type KeyAndCertificate,
  LOOPBACK_HOSTS,
  ROLES,
  type Role,
  rolesOfCertificate,
} from './certificates.js';

/**
 * A TLS directory (<data-dir>/tls unless told otherwise):
 *   ca.crt        the certificate authority every hedge process trusts
 *   ca.key        its key (0600), only on the host that issues certificates
 *   <name>.pem    a certificate and its key (0600), named by its roles: client.pem,
 *                 replica.pem, client+operator+injector.pem
 * `hedge certs issue --out` writes the same layout without ca.key, so the folder
 * can be copied to another host as its TLS directory.
 */
export function tlsDirOf(dataDir: string): string {
  return join(dataDir, 'tls');
}

export const CA_CERT_FILE = 'ca.crt';
const CA_KEY_FILE = 'ca.key';

/** What a process presents and trusts. */
export interface Identity {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
  roles: Role[];
  /** Where it came from, for errors and the log. */
  source: string;
}

/** The file name of the certificate for `roles`, in the order of ROLES. */
export function identityName(roles: readonly Role[]): string {
  return ROLES.filter((r) => roles.includes(r)).join('+');
}

/** The hosts a certificate made on this host names: loopback and this host's name. */
export function localHosts(): string[] {
  return [...LOOPBACK_HOSTS, hostname()];
}

function pemBlocks(text: string, type: RegExp): string[] {
  return [...text.matchAll(/-----BEGIN ([A-Z ]+)-----[\s\S]+?-----END \1-----\n?/g)]
    .filter((m) => type.test(m[1] as string))
    .map((m) => m[0]);
}

/** A file that holds a certificate and its key (in either order), as <name>.pem does. */
export function splitPem(text: string, source: string): KeyAndCertificate {
  const cert = pemBlocks(text, /^CERTIFICATE$/).join('');
  const key = pemBlocks(text, /PRIVATE KEY$/)[0];
  if (!cert) throw new Error(`${source}: no certificate in it`);
  if (!key) throw new Error(`${source}: no private key in it (pass --key)`);
  return { cert, key };
}

/** Creates `path` with `content` (mode 0600) unless it exists; the first of racing writers wins. */
function writeOnce(path: string, content: string): void {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600 });
  try {
    linkSync(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    unlinkSync(tmp);
  }
}

/**
 * Makes the TLS directory if it has no CA: a new CA and a certificate for each
 * role, for the hosts of `localHosts()`. Built aside and renamed into place, so
 * processes that start together (a benchmark's) all end up with the same CA.
 * Returns whether it made one.
 */
export function ensureTlsDir(dir: string): boolean {
  if (existsSync(join(dir, CA_CERT_FILE))) return false;
  mkdirSync(dirname(resolve(dir)), { recursive: true });
  const tmp = `${resolve(dir)}.${randomBytes(4).toString('hex')}.tmp`;
  mkdirSync(tmp, { mode: 0o700 });
  try {
    const ca = createAuthority();
    writeFileSync(join(tmp, CA_CERT_FILE), ca.cert, { mode: 0o644 });
    writeFileSync(join(tmp, CA_KEY_FILE), ca.key, { mode: 0o600 });
    for (const role of ROLES) {
      const issued = issueCertificate(ca, { roles: [role], hosts: localHosts() });
      writeFileSync(join(tmp, `${role}.pem`), issued.cert + issued.key, { mode: 0o600 });
    }
    renameSync(tmp, dir);
    return true;
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    const code = (err as NodeJS.ErrnoException).code;
    // Another process made it first (a directory that is there and not empty).
    if ((code === 'ENOTEMPTY' || code === 'EEXIST') && existsSync(join(dir, CA_CERT_FILE))) return false;
    throw err;
  }
}

/** The CA of a TLS directory that holds its key: what `hedge certs issue` signs with. */
export function readAuthority(dir: string): KeyAndCertificate {
  const keyPath = join(dir, CA_KEY_FILE);
  if (!existsSync(keyPath)) {
    throw new Error(
      `no CA key in ${dir} (${CA_KEY_FILE}): certificates are issued on the host that made the CA (\`hedge up\` makes one)`,
    );
  }
  return { cert: readFileSync(join(dir, CA_CERT_FILE), 'utf8'), key: readFileSync(keyPath, 'utf8') };
}

/** Issues a certificate for `roles` at `hosts` into `outDir` (with ca.crt); returns the certificate's path. */
export function issueInto(
  authority: KeyAndCertificate,
  outDir: string,
  roles: readonly Role[],
  hosts: readonly string[],
): string {
  mkdirSync(outDir, { recursive: true, mode: 0o700 });
  const issued = issueCertificate(authority, { roles, hosts });
  const path = join(outDir, `${identityName(roles)}.pem`);
  writeFileSync(path, issued.cert + issued.key, { mode: 0o600 });
  writeFileSync(join(outDir, CA_CERT_FILE), authority.cert, { mode: 0o644 });
  return path;
}

/**
 * The identity for `roles` from a TLS directory: <name>.pem, issued there (from the
 * CA key, for this host) if it is missing and the key is at hand.
 */
export function loadIdentity(dir: string, roles: readonly Role[]): Identity {
  const caPath = join(dir, CA_CERT_FILE);
  if (!existsSync(caPath)) {
    throw new Error(
      `no certificates in ${dir}: start the system with \`hedge up\` (which makes them), ` +
        'pass --ca, --cert and --key, or turn TLS off with --insecure',
    );
  }
  const path = join(dir, `${identityName(roles)}.pem`);
  if (!existsSync(path)) {
    const issued = issueCertificate(readAuthority(dir), { roles, hosts: localHosts() });
    writeOnce(path, issued.cert + issued.key);
  }
  return identityFromFiles(caPath, path, path);
}

/** An identity from files named by flags (--ca, --cert, --key; the key may be in the certificate's file). */
export function identityFromFiles(caPath: string, certPath: string, keyPath: string = certPath): Identity {
  const read = (p: string) => {
    try {
      return readFileSync(p, 'utf8');
    } catch (err) {
      throw new Error(`cannot read ${p}: ${(err as Error).message}`);
    }
  };
  const ca = pemBlocks(read(caPath), /^CERTIFICATE$/).join('');
  if (!ca) throw new Error(`${caPath}: no CA certificate in it`);
  const { cert } = splitPem(read(certPath), certPath);
  const key =
    certPath === keyPath
      ? splitPem(read(certPath), certPath).key
      : pemBlocks(read(keyPath), /PRIVATE KEY$/)[0];
  if (!key) throw new Error(`${keyPath}: no private key in it`);
  return {
    ca: Buffer.from(ca),
    cert: Buffer.from(cert),
    key: Buffer.from(key),
    roles: rolesOfCertificate(cert),
    source: certPath,
  };
}
