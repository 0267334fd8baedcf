import {
  type Metadata,
  ResponderBuilder,
  ServerInterceptingCall,
  type ServerInterceptor,
  ServerListenerBuilder,
  status,
} from '@grpc/grpc-js';
import { type Role, rolesInAltNames } from './certificates.js';
import { isInsecure } from './transport.js';

/**
 * Who may call what: every RPC of every hedge server, by service (all its
 * methods) or by service/method (which wins). A service not named here is
 * refused to everyone. The roles come from the caller's certificate
 * (certificates.ts); the table is applied by one server interceptor
 * (`authorizeByRole`), before any handler runs.
 */
export const RPC_ROLES: Readonly<Record<string, readonly Role[]>> = {
  'hedge.v1.Trading': ['client'],
  'hedge.v1.DayTrading': ['client'],
  // Reading the membership is what a client does to find replicas, an operator to
  // watch them, and the fault injector to choose its target.
  'hedge.v1.ReplicationManager/GetMembership': ['client', 'operator', 'injector'],
  'hedge.v1.ReplicationManager/WatchMembership': ['client', 'operator', 'injector'],
  'hedge.v1.ReplicationManager/GetStatus': ['client', 'operator', 'injector'],
  // A report is still only acted on when the manager's own probe agrees.
  'hedge.v1.ReplicationManager/ReportFault': ['client'],
  // Replicas verify and watch prices; clients fetch the signed quotes they trade at.
  'hedge.v1.StockFeed': ['replica', 'client'],
  // A host agent starts and signals replicas for the manager, and for nobody else.
  'hedge.v1.HostAgent': ['manager'],
  // Served only by a replica started with --allow-fault-injection.
  'hedge.v1.ReplicaAdmin': ['injector'],
  // The manager's heartbeat; an operator's probe.
  'grpc.health.v1.Health': ['manager', 'operator'],
  'grpc.reflection.v1.ServerReflection': ['operator'],
  'grpc.reflection.v1alpha.ServerReflection': ['operator'],
};

/**
 * A request that asks for more than its method: the whole audit log (DUMPLOG
 * without a user) needs an operator's certificate as well as the administrator's
 * session, which the replica checks itself.
 */
const REQUEST_ROLES: Readonly<Record<string, (request: unknown) => Role | undefined>> = {
  'hedge.v1.DayTrading/DumpLog': wholeLogNeedsOperator,
  'hedge.v1.DayTrading/StreamLog': wholeLogNeedsOperator,
};

function wholeLogNeedsOperator(request: unknown): Role | undefined {
  return (request as { whole_log?: boolean } | null)?.whole_log ? 'operator' : undefined;
}

/** The roles that may call `path` ("/hedge.v1.Trading/Buy"); none for an unknown service. */
export function rolesFor(path: string): readonly Role[] {
  let allowed = rolesByPath.get(path);
  if (!allowed) {
    const method = path.replace(/^\//, '');
    const service = method.split('/')[0] ?? '';
    allowed = RPC_ROLES[method] ?? RPC_ROLES[service] ?? [];
    // Paths are the servers' own methods (grpc-js refuses unknown ones before interceptors)
    // and a few probes: bounded, but cleared past a size no server reaches.
    if (rolesByPath.size >= 1_024) rolesByPath.clear();
    rolesByPath.set(path, allowed);
  }
  return allowed;
}
const rolesByPath = new Map<string, readonly Role[]>();

/** Why a caller holding `held` may not call `path`, or undefined if it may. */
export function refusal(path: string, held: readonly Role[]): string | undefined {
  const allowed = rolesFor(path);
  if (allowed.some((r) => held.includes(r))) return undefined;
  const name = path.replace(/^\//, '');
  if (allowed.length === 0) return `${name} is not open to any caller`;
  return `${name} needs a certificate with the role ${allowed.join(' or ')}; the caller's has ${held.length > 0 ? held.join(', ') : 'no role'}`;
}

/** A connection's certificate names, parsed once: its calls present the same text each time. */
const heldBySan = new Map<string, Role[]>();
function heldRoles(subjectAltName: string | undefined): Role[] {
  if (subjectAltName === undefined) return [];
  let held = heldBySan.get(subjectAltName);
  if (!held) {
    held = rolesInAltNames(subjectAltName);
    // A bounded cache: a long-lived server meets few certificates, but never an unbounded number.
    if (heldBySan.size >= 1_024) heldBySan.clear();
    heldBySan.set(subjectAltName, held);
  }
  return held;
}

/**
 * The server interceptor that applies RPC_ROLES to every call from the peer's
 * certificate: a refused call ends PERMISSION_DENIED with the reason, before its
 * handler sees it, so it changes nothing. Without TLS (--insecure) there is no
 * certificate and every call passes, as the operator chose.
 */
export const authorizeByRole: ServerInterceptor = (method, call) => {
  if (isInsecure()) return new ServerInterceptingCall(call);
  const held = heldRoles(call.getAuthContext().sslPeerCertificate?.subjectaltname);
  const reason = refusal(method.path, held);
  const extra = REQUEST_ROLES[method.path.replace(/^\//, '')];
  // The common case (an allowed caller, no check on the message): nothing to intercept.
  if (!reason && !extra) return new ServerInterceptingCall(call);
  const deny = (details: string) => call.sendStatus({ code: status.PERMISSION_DENIED, details });
  const listener = new ServerListenerBuilder()
    .withOnReceiveMetadata((metadata: Metadata, next) => {
      if (reason) deny(reason);
      else next(metadata);
    })
    .withOnReceiveMessage((message, next) => {
      const needed = extra?.(message);
      if (needed && !held.includes(needed)) {
        deny(
          `the whole log needs a certificate with the role ${needed} as well; the caller's has ${held.join(', ')}`,
        );
      } else next(message);
    })
    .build();
  return new ServerInterceptingCall(call, new ResponderBuilder().withStart((next) => next(listener)).build());
};
