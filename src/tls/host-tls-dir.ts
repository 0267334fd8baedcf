import { LOOPBACK_HOSTS, type Role } from './certificates.js';
import { issueInto } from './tls-dir.js';

/**
 * The TLS directory of another host (what `hedge certs issue --out` writes, once
 * per role set): a certificate for each of `roleSets` naming `hosts` (and
 * loopback), and ca.crt, but no CA key, so nothing there issues more. Returns `dir`.
 */
export function issueHostTlsDir(
  authority: { cert: string; key: string },
  dir: string,
  roleSets: readonly (readonly Role[])[],
  hosts: readonly string[],
): string {
  const names = [...new Set([...LOOPBACK_HOSTS, ...hosts])];
  for (const roles of roleSets) issueInto(authority, dir, roles, names);
  return dir;
}
