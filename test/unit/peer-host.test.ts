import { describe, expect, it } from 'vitest';
import { peerHost } from '../../src/replica/sign-in-throttle.js';

describe('peerHost: the address a sign-in is throttled under', () => {
  it.each([
    ['127.0.0.1:5000', '127.0.0.1'],
    ['ipv4:10.0.0.1:443', '10.0.0.1'],
    // A server listening on '::' sees an IPv4 client as IPv4-mapped: the same peer either way.
    ['::ffff:127.0.0.1:59750', '127.0.0.1'],
    // grpc-js appends the port to an unbracketed IPv6 address.
    ['::1:5000', '::1'],
    ['fe80::1:2:443', 'fe80::1:2'],
    ['[::1]:5000', '::1'],
    ['ipv6:[2001:db8::7]:80', '2001:db8::7'],
    ['/run/hedge.sock', '/run/hedge.sock'],
  ])('%s → %s', (peer, host) => {
    expect(peerHost(peer)).toBe(host);
  });
});
