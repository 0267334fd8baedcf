import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { choiceListOption, collect, listOption } from '../common/cli-options.js';
import { DATA_DIR, resolveDataDir, resolveSetting, settingOption } from '../common/settings.js';
import { LOOPBACK_HOSTS, ROLES, type Role } from './certificates.js';
import { CA_CERT_FILE, ensureTlsDir, issueInto, readAuthority, tlsDirOf } from './tls-dir.js';
import { TLS_DIR } from './transport-options.js';

interface CertsCliOptions {
  dataDir?: string;
  tlsDir?: string;
}

async function tlsDirFrom(opts: CertsCliOptions): Promise<string> {
  return resolve((await resolveSetting(TLS_DIR, opts.tlsDir)) ?? tlsDirOf(resolveDataDir(opts.dataDir)));
}

function describeCertificate(path: string): string {
  const cert = new X509Certificate(readFileSync(path));
  return `${path}\n  subject ${cert.subject.replace(/\n/g, ', ')}\n  names   ${cert.subjectAltName ?? 'none'}\n  valid   ${cert.validFrom} to ${cert.validTo}\n  sha256  ${cert.fingerprint256}`;
}

/**
 * `hedge certs`: the certificate authority of a data directory and certificates
 * for other hosts, so that a deployment on several hosts needs no other tool.
 */
export function certsCommand(): Command {
  const withDirs = (c: Command) =>
    c
      .addOption(settingOption({ ...DATA_DIR, description: 'data directory whose tls/ holds the CA' }))
      .addOption(settingOption(TLS_DIR));
  const certs = new Command('certs').description(
    "The system's certificate authority (<data-dir>/tls, made by hedge up) and certificates for other hosts.",
  );
  certs.addCommand(
    withDirs(
      new Command('ca').description(
        'Make the CA (and a certificate per role for this host) if there is none; print the CA certificate.',
      ),
    ).action(async (opts: CertsCliOptions) => {
      const dir = await tlsDirFrom(opts);
      const made = ensureTlsDir(dir);
      process.stdout.write(
        `${made ? 'made a new CA: ' : ''}${describeCertificate(join(dir, CA_CERT_FILE))}\n`,
      );
    }),
  );
  certs.addCommand(
    withDirs(
      new Command('issue')
        .description(
          'Issue a certificate for a process on another host, signed by this CA: writes <roles>.pem (the ' +
            'certificate and its key, mode 0600) and ca.crt into --out, the layout of a TLS directory, so the ' +
            "folder can be the other host's <data-dir>/tls (or be named by --ca, --cert there).",
        )
        .requiredOption(
          '--role <roles>',
          `its roles, comma-separated: ${ROLES.join(', ')}`,
          choiceListOption(ROLES, 'role'),
        )
        .option(
          '--host <host>',
          'a DNS name or IP address it serves at (repeatable; loopback is always named)',
          collect,
        )
        .option('--out <dir>', 'where to write it', '.'),
    ).action(async (opts: CertsCliOptions & { role: Role[]; host?: string[]; out: string }) => {
      const dir = await tlsDirFrom(opts);
      const hosts = [...LOOPBACK_HOSTS, ...(opts.host ?? []).flatMap(listOption)];
      const path = issueInto(readAuthority(dir), resolve(opts.out), opts.role, hosts);
      process.stdout.write(`${describeCertificate(path)}\nwith ${join(resolve(opts.out), CA_CERT_FILE)}\n`);
    }),
  );
  return certs;
}
