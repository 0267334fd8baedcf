import { createPrivateKey, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import forge from 'node-forge';
import { type FeedPublicKey, feedPublicKeyFromPem } from '../common/feed-key.js';
import { feedKeyPaths, trustedFeedKeysDir } from '../common/paths.js';

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: FeedPublicKey;
}

/**
 * The feed's RSA-2048 key pair, made with node-forge on first start and kept in
 * the data directory (private half 0600) so that replicas and clients, which hold
 * only the public half, keep trusting the feed across restarts. Each feed has its
 * own pair (decision: a private key never leaves the feed that made it); its public
 * half is also put in <data-dir>/feed-keys/<name>.pem, the set replicas of this
 * data directory trust.
 */
export function loadOrCreateSigningKey(dataDir: string, name = 'feed'): SigningKey {
  const paths = feedKeyPaths(dataDir, name);
  if (!existsSync(paths.privateKey)) {
    // node-forge hands RSA generation to Node's native crypto when it can.
    const pair = forge.pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 });
    mkdirSync(dirname(paths.privateKey), { recursive: true, mode: 0o700 });
    writeFileSync(paths.privateKey, forge.pki.privateKeyToPem(pair.privateKey), { mode: 0o600 });
    writeFileSync(paths.publicKey, forge.pki.publicKeyToPem(pair.publicKey), { mode: 0o644 });
  }
  const publicPem = readFileSync(paths.publicKey, 'utf8');
  const trusted = join(trustedFeedKeysDir(dataDir), `${name}.pem`);
  if (!existsSync(trusted) || readFileSync(trusted, 'utf8') !== publicPem) {
    mkdirSync(dirname(trusted), { recursive: true });
    writeFileSync(`${trusted}.tmp`, publicPem, { mode: 0o644 });
    renameSync(`${trusted}.tmp`, trusted);
  }
  return {
    privateKey: createPrivateKey(readFileSync(paths.privateKey, 'utf8')),
    publicKey: feedPublicKeyFromPem(publicPem),
  };
}
