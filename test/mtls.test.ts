import {
  type ChannelCredentials,
  type Client,
  credentials,
  Metadata,
  type ServiceError,
  status,
} from '@grpc/grpc-js';
import { describe, expect, inject, it } from 'vitest';
import { ADMIN_USERNAME, adminPasswordPath } from '../src/common/admin.js';
import { uuidv7 } from '../src/common/ids.js';
import { hedgeProto } from '../src/common/proto.js';
import { deadlineAfter } from '../src/common/rpc.js';
import { readSecret } from '../src/common/secret-file.js';
import { newSessionToken } from '../src/common/session-token.js';
import { createAuthority, issueCertificate, LOOPBACK_HOSTS, type Role } from '../src/tls/certificates.js';
import { type Identity, loadIdentity, readAuthority } from '../src/tls/tls-dir.js';
import { credentialsFor } from '../src/tls/transport.js';
import { serving, useCluster } from './support/cluster.js';
import { uniqueUsername } from './support/trader.js';

const tlsDir = inject('tlsDir');
const ourCa = () => readAuthority(tlsDir);

function identity(cert: { cert: string; key: string }, roles: Role[], ca = ourCa().cert): Identity {
  return {
    ca: Buffer.from(ca),
    cert: Buffer.from(cert.cert),
    key: Buffer.from(cert.key),
    roles,
    source: 'test',
  };
}

/** The certificate the system made for `roles` (the TLS directory's <roles>.pem). */
const roleIdentity = (...roles: Role[]) => loadIdentity(tlsDir, roles);

/** Ways in that every server must refuse before any handler runs, as the client sees the refusal. */
const CALLERS: Record<string, () => ChannelCredentials> = {
  // Trusts the server but presents no certificate: the server ends the handshake.
  'no certificate': () => credentials.createSsl(Buffer.from(ourCa().cert)),
  // A client certificate from a CA the system does not trust.
  'a certificate from another CA': () => {
    const other = createAuthority('another CA');
    return credentialsFor(
      identity(
        issueCertificate(other, {
          roles: ['client', 'operator', 'injector', 'replica'],
          hosts: LOOPBACK_HOSTS,
        }),
        ['client'],
      ),
    );
  },
  // Signed by the system's CA, with every role, but its validity ended yesterday.
  'an expired certificate': () => {
    const day = 86_400_000;
    const expired = issueCertificate(ourCa(), {
      roles: ['client', 'operator', 'injector', 'replica'],
      hosts: LOOPBACK_HOSTS,
      notBefore: new Date(Date.now() - 2 * day),
      notAfter: new Date(Date.now() - day),
    });
    return credentialsFor(identity(expired, ['client']));
  },
  // No TLS at all.
  plaintext: () => credentials.createInsecure(),
};

type Service = 'Trading' | 'DayTrading' | 'ReplicationManager' | 'StockFeed' | 'ReplicaAdmin';

/** One unary call by name, as whoever the credentials say; resolves with the response or the error. */
function call(
  service: Service,
  method: string,
  address: string,
  creds: ChannelCredentials,
  request: object,
  metadata = new Metadata(),
): Promise<{ response?: unknown; error?: ServiceError }> {
  const client = new (hedgeProto()[service])(address, creds) as unknown as Client &
    Record<string, (...args: unknown[]) => void>;
  return new Promise((resolve) => {
    client[method]?.(
      request,
      metadata,
      { deadline: deadlineAfter(10_000) },
      (err: ServiceError | null, res: unknown) => {
        client.close();
        resolve(err ? { error: err } : { response: res });
      },
    );
  });
}

/** A server-streaming call read to its end: the chunks it sent, or the error it ended with. */
function stream(
  address: string,
  creds: ChannelCredentials,
  request: object,
  metadata: Metadata,
): Promise<{ chunks: number; error?: ServiceError }> {
  const client = new (hedgeProto().DayTrading)(address, creds);
  return new Promise((resolve) => {
    let chunks = 0;
    const s = client.StreamLog(request, metadata, { deadline: deadlineAfter(10_000) });
    s.on('data', () => {
      chunks += 1;
    });
    s.on('error', (error: ServiceError) => {
      client.close();
      resolve({ chunks, error });
    });
    s.on('end', () => {
      client.close();
      resolve({ chunks });
    });
  });
}

const register = (username: string) => ({
  request_id: uuidv7(),
  username,
  password: 'correct horse',
  session_token: newSessionToken(),
});

describe('mutual TLS and roles (on by default)', () => {
  const c = useCluster(['--allow-fault-injection']);

  /** Each server, one RPC of it, a role that may call it and one that may not. */
  const replicaAddress = async () =>
    serving(await c.waitFor('replicas', (s) => serving(s).length >= 2))[0]?.address as string;
  const targets = async () => {
    const replica = await replicaAddress();
    return [
      {
        server: 'replica (Trading)',
        service: 'Trading' as const,
        method: 'Register',
        address: replica,
        request: () => register(uniqueUsername('refused')),
        wrong: 'operator' as Role,
      },
      {
        server: 'replica (ReplicaAdmin)',
        service: 'ReplicaAdmin' as const,
        method: 'SetSlowness',
        address: replica,
        request: () => ({ delay_ms: 5_000, duration_ms: 60_000 }),
        wrong: 'client' as Role,
      },
      {
        server: 'manager',
        service: 'ReplicationManager' as const,
        method: 'GetStatus',
        address: c.managerAddress,
        request: () => ({}),
        wrong: 'replica' as Role,
      },
      {
        server: 'feed',
        service: 'StockFeed' as const,
        method: 'GetQuote',
        address: c.feed.address,
        request: () => ({ symbol: 'ABC' }),
        wrong: 'operator' as Role,
      },
    ];
  };

  it('refuses a caller without a certificate, with another CA’s, with an expired one, or in plaintext, on every server: UNAVAILABLE', async () => {
    for (const target of await targets()) {
      for (const [who, creds] of Object.entries(CALLERS)) {
        const { error } = await call(
          target.service,
          target.method,
          target.address,
          creds(),
          target.request(),
        );
        // The handshake fails (the server requires a certificate its CA signed, still valid, and
        // speaks only TLS), so no call is ever made: grpc-js reports a connection it could not
        // establish as UNAVAILABLE, the same as a server that is down.
        expect({ server: target.server, who, code: error?.code }).toEqual({
          server: target.server,
          who,
          code: status.UNAVAILABLE,
        });
        // Only the missing certificate is named to the client (TLS 1.3's certificate_required alert);
        // the others read "Failed to connect", the server having closed the handshake.
        if (who === 'no certificate') expect(error?.details).toContain('certificate required');
      }
    }
    // None of those Register calls reached the database.
    const { rows } = await c.db.pool.query(
      "SELECT count(*)::int AS n FROM users WHERE username LIKE 'refused_%'",
    );
    expect(rows[0].n).toBe(0);
  });

  it('refuses a certificate of the wrong role on every server with PERMISSION_DENIED and the reason, and changes nothing', async () => {
    for (const target of await targets()) {
      const { error } = await call(
        target.service,
        target.method,
        target.address,
        credentialsFor(roleIdentity(target.wrong)),
        target.request(),
      );
      expect({ server: target.server, code: error?.code }).toEqual({
        server: target.server,
        code: status.PERMISSION_DENIED,
      });
      expect(error?.details).toMatch(
        new RegExp(
          `${target.method} needs a certificate with the role .+; the caller's has ${target.wrong}$`,
        ),
      );
    }
    const { rows } = await c.db.pool.query(
      "SELECT count(*)::int AS n FROM users WHERE username LIKE 'refused_%'",
    );
    expect(rows[0].n).toBe(0);
  });

  it('lets each server’s own role in: a client trades and reads the feed, an injector slows a replica, an operator reads the status', async () => {
    const replica = await replicaAddress();
    const client = credentialsFor(roleIdentity('client'));
    expect(
      (await call('Trading', 'Register', replica, client, register(uniqueUsername('ok')))).error,
    ).toBeUndefined();
    expect(
      (await call('StockFeed', 'GetQuote', c.feed.address, client, { symbol: 'ABC' })).error,
    ).toBeUndefined();
    const injector = credentialsFor(roleIdentity('injector'));
    expect(
      (await call('ReplicaAdmin', 'SetSlowness', replica, injector, { delay_ms: 0, duration_ms: 0 })).error,
    ).toBeUndefined();
    const operator = credentialsFor(roleIdentity('operator'));
    const status_ = await call('ReplicationManager', 'GetStatus', c.managerAddress, operator, {});
    expect(status_.error).toBeUndefined();
    expect((status_.response as { replicas: unknown[] }).replicas.length).toBeGreaterThanOrEqual(2);
  });

  it('an operator certificate can read the status and the membership but not trade or report a fault', async () => {
    const operator = credentialsFor(roleIdentity('operator'));
    const replica = await replicaAddress();
    expect(
      (await call('ReplicationManager', 'GetStatus', c.managerAddress, operator, {})).error,
    ).toBeUndefined();
    expect(
      (await call('ReplicationManager', 'GetMembership', c.managerAddress, operator, {})).error,
    ).toBeUndefined();
    const username = uniqueUsername('operator');
    const trade = await call('Trading', 'Register', replica, operator, register(username));
    expect(trade.error?.code).toBe(status.PERMISSION_DENIED);
    expect(trade.error?.details).toContain(
      'hedge.v1.Trading/Register needs a certificate with the role client',
    );
    const report = await call('ReplicationManager', 'ReportFault', c.managerAddress, operator, {
      replica_id: 'r1',
      address: '',
      code: status.UNAVAILABLE,
      message: 'an operator says so',
    });
    expect(report.error?.code).toBe(status.PERMISSION_DENIED);
    const { rows } = await c.db.pool.query('SELECT count(*)::int AS n FROM users WHERE username = $1', [
      username,
    ]);
    expect(rows[0].n).toBe(0);
  });

  it('the whole log needs an operator certificate as well as the administrator’s session', async () => {
    const address = await replicaAddress();
    const password = readSecret(adminPasswordPath(c.feed.dataDir));
    const login = await call('Trading', 'Login', address, credentialsFor(roleIdentity('client')), {
      request_id: uuidv7(),
      username: ADMIN_USERNAME,
      password,
      session_token: newSessionToken(),
    });
    expect(login.error).toBeUndefined();
    const md = new Metadata();
    md.set('authorization', `Bearer ${(login.response as { session_token: string }).session_token}`);
    const whole = { upto_event_id: '0', after_event_id: '0', whole_log: true };
    const asClient = await stream(address, credentialsFor(roleIdentity('client')), whole, md);
    expect(asClient.error?.code).toBe(status.PERMISSION_DENIED);
    expect(asClient.error?.details).toContain('the whole log needs a certificate with the role operator');
    // An operator alone may not use DayTrading at all.
    const asOperator = await stream(address, credentialsFor(roleIdentity('operator')), whole, md);
    expect(asOperator.error?.code).toBe(status.PERMISSION_DENIED);
    const asBoth = await stream(address, credentialsFor(roleIdentity('client', 'operator')), whole, md);
    expect(asBoth.error).toBeUndefined();
    expect(asBoth.chunks).toBeGreaterThan(0);
  });

  it('a client refuses a server whose certificate lacks the role it dialled for (UNAVAILABLE, naming why)', async () => {
    const replica = await replicaAddress();
    // A client that expects a manager at a replica's address: the replica's certificate says replica.
    const { error } = await call(
      'ReplicationManager',
      'GetStatus',
      replica,
      credentialsFor(roleIdentity('client'), 'manager'),
      {},
    );
    expect(error?.code).toBe(status.UNAVAILABLE);
    expect(error?.details).toContain('has no manager certificate');
  });
});
