/** The nft table of a delayed host (in its namespace): one per host, removed when the delay ends. */
export const DELAY_TABLE = 'hedge_delay';

/**
 * What a delay covers: `all` the host's TCP connections (those other hosts make
 * to it and those it makes, to the database and the feeds), or only the
 * `incoming` ones (a host far from its clients and manager, near its database).
 */
export type DelayScope = 'all' | 'incoming';
export const DELAY_SCOPES: readonly DelayScope[] = ['all', 'incoming'];

/**
 * The local ports the proxy dials other hosts from: below the namespace's
 * ephemeral range (32768-60999 by default, checked when the delay starts), so
 * that no other socket of the host has one, and the output rule can leave the
 * proxy's own connections alone.
 */
export const DIAL_PORTS = { first: 20_000, last: 29_999 };

/**
 * New TCP connections to `address` from other hosts (prerouting: traffic that
 * arrives on the link) are redirected to the proxy listener the `ports` map
 * names for their port; new connections the host makes to other hosts (output)
 * to the one the `out` map names for their destination and port, on
 * 127.0.0.1. What no map names is left alone.
 */
export function delayTableRules(address: string): string {
  return `table ip ${DELAY_TABLE} {
  map ports { type inet_service : inet_service; }
  map out { type ipv4_addr . inet_service : inet_service; }
  chain pre {
    type nat hook prerouting priority dstnat; policy accept;
    ip daddr ${address} meta l4proto tcp redirect to tcp dport map @ports
  }
  chain out {
    type nat hook output priority -100; policy accept;
    meta l4proto tcp ip daddr != { 127.0.0.0/8, ${address} } tcp sport != ${DIAL_PORTS.first}-${DIAL_PORTS.last} redirect to ip daddr . tcp dport map @out
  }
}
`;
}
