import { createPrivateKey, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import forge from 'node-forge';
import { type FeedPublicKey, feedPublicKeyFromPem } from '../common/feed-key.js';
import { feedKeyPaths } from '../common/paths.js';

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: FeedPublicKey;
}

/**
 * The feed's RSA-2048 key pair, made with node-forge on first start and kept in
 * the data directory (private half 0600) so that replicas and clients, which hold
 * only the public half, keep trusting the feed across restarts.
 */
export function loadOrCreateSigningKey(dataDir: string): SigningKey {
  const paths = feedKeyPaths(dataDir);
  if (!existsSync(paths.privateKey)) {
    // node-forge hands RSA generation to Node's native crypto when it can.
    const pair = forge.pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 });
    mkdirSync(dirname(paths.privateKey), { recursive: true, mode: 0o700 });
    writeFileSync(paths.privateKey, forge.pki.privateKeyToPem(pair.privateKey), { mode: 0o600 });
    writeFileSync(paths.publicKey, forge.pki.publicKeyToPem(pair.publicKey), { mode: 0o644 });
  }
  return {
    privateKey: createPrivateKey(readFileSync(paths.privateKey, 'utf8')),
    publicKey: feedPublicKeyFromPem(readFileSync(paths.publicKey, 'utf8')),
  };
}
