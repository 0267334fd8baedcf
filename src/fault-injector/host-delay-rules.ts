/** The nft table of a delayed host (in its namespace): one per host, removed when the delay ends. */
export const DELAY_TABLE = 'hedge_delay';

/**
 * New TCP connections to `address` from other hosts (prerouting: traffic that
 * arrives on the link) are redirected to the proxy listener the `ports` map
 * names for their port; a port not in the map is left alone.
 */
export function delayTableRules(address: string): string {
  return `table ip ${DELAY_TABLE} {
  map ports { type inet_service : inet_service; }
  chain pre {
    type nat hook prerouting priority dstnat; policy accept;
    ip daddr ${address} meta l4proto tcp redirect to tcp dport map @ports
  }
}
`;
}
