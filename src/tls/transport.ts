import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { type ChannelCredentials, credentials, ServerCredentials } from '@grpc/grpc-js';
import { type Role, rolesInAltNames } from './certificates.js';
import type { Identity } from './tls-dir.js';

/**
 * How this process talks to other hedge processes: mutual TLS with its identity
 * (the default), or plaintext when it was told so (--insecure). One per process,
 * set by the command before it opens a channel or a server (transport-options.ts);
 * every server and channel takes its credentials from here, so that nothing
 * falls back to plaintext on its own.
 */
export type Transport = { insecure: true } | { insecure: false; identity: Identity };

let current: Transport | undefined;
const channelCache = new Map<string, ChannelCredentials>();

export function useTransport(transport: Transport): void {
  if (!transport.insecure) quietIpServerNameWarning();
  current = transport;
  channelCache.clear();
}

export function currentTransport(): Transport {
  if (!current) {
    throw new Error('no transport security set for this process (a command sets TLS or --insecure first)');
  }
  return current;
}

let quieted = false;

/**
 * grpc-js sets the TLS server name to the host dialled, an IP address here
 * (127.0.0.1:port), which Node warns about once per process (DEP0123; grpc-node
 * issue #1919). The certificate is still checked against that address (its IP
 * SAN); only this one warning is dropped, so that every process's stderr is not
 * led by it.
 */
function quietIpServerNameWarning(): void {
  if (quieted) return;
  quieted = true;
  const emit = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = ((...args: unknown[]) => {
    const [, typeOrOptions, code] = args;
    const warningCode =
      typeof typeOrOptions === 'object' && typeOrOptions !== null
        ? (typeOrOptions as { code?: string }).code
        : code;
    if (warningCode === 'DEP0123') return;
    emit(...args);
  }) as typeof process.emitWarning;
}

/** Whether this process was told to run without TLS (for the log's context and the live view). */
export function isInsecure(): boolean {
  return current?.insecure === true;
}

/** One line for a person: mTLS and where the certificate is from, or that TLS is off. */
export function transportSummary(): string {
  const t = currentTransport();
  if (t.insecure) return 'TLS OFF (--insecure): plaintext gRPC, no certificates, no roles';
  return `mTLS on · certificate ${t.identity.source} (${t.identity.roles.join(', ')})`;
}

/** A server's credentials: its certificate, and a client certificate signed by the CA required of every caller. */
export function serverCredentials(): ServerCredentials {
  const t = currentTransport();
  if (t.insecure) return ServerCredentials.createInsecure();
  return ServerCredentials.createSsl(
    t.identity.ca,
    [{ cert_chain: t.identity.cert, private_key: t.identity.key }],
    true,
  );
}

/**
 * A channel's credentials: this process's certificate, and a check that the
 * server's is the CA's, for the host dialled, and (given `serverRole`) holds that
 * role, so a client cannot be handed a replica by something that is not one.
 */
export function channelCredentials(serverRole?: Role): ChannelCredentials {
  const t = currentTransport();
  if (t.insecure) return credentials.createInsecure();
  const key = serverRole ?? '';
  let made = channelCache.get(key);
  if (!made) {
    made = credentialsFor(t.identity, serverRole);
    channelCache.set(key, made);
  }
  return made;
}

/** Channel credentials for a given identity (tests present other ones than the process's). */
export function credentialsFor(identity: Identity, serverRole?: Role): ChannelCredentials {
  return credentials.createSsl(identity.ca, identity.key, identity.cert, {
    checkServerIdentity: (host: string, cert: PeerCertificate) => {
      const wrongHost = checkServerIdentity(host, cert);
      if (wrongHost) return wrongHost;
      if (serverRole && !rolesInAltNames(cert.subjectaltname).includes(serverRole)) {
        return new Error(
          `the server at ${host} has no ${serverRole} certificate (its roles: ${rolesInAltNames(cert.subjectaltname).join(', ') || 'none'})`,
        );
      }
      return undefined;
    },
  });
}
