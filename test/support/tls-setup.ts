import { inject } from 'vitest';
import { useTransport } from '../../src/tls/transport.js';
import { testIdentity } from './tls.js';

const tlsDir = inject('tlsDir');
process.env.HEDGE_TLS_DIR = tlsDir;
useTransport({ insecure: false, identity: testIdentity(tlsDir) });
