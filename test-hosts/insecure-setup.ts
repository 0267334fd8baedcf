import { useTransport } from '../src/tls/transport.js';

// The simulated hosts' addresses (198.18.0.0/15) are in no certificate the test run's CA
// issues (those name loopback and this host), so this suite runs plaintext, said so
// explicitly as --insecure does; every process it starts inherits HEDGE_INSECURE.
process.env.HEDGE_INSECURE = '1';
useTransport({ insecure: true });
