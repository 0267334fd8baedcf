import { createHash, createPublicKey, type KeyObject, verify } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalQuoteBytes, type QuoteFields } from './quote-codec.js';

export interface FeedPublicKey {
  key: KeyObject;
  keyId: string;
  pem: string;
}

/** The first 16 hex digits of SHA-256 over the key's SPKI DER encoding. */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex')
    .slice(0, 16);
}

export function feedPublicKeyFromPem(pem: string): FeedPublicKey {
  const key = createPublicKey(pem);
  return { key, keyId: keyIdOf(key), pem };
}

export function readFeedPublicKey(path: string): FeedPublicKey {
  return feedPublicKeyFromPem(readFileSync(path, 'utf8'));
}

/**
 * The feed keys a replica trusts: the one in `path`, or every *.pem in the
 * directory `path`. None is an error: a replica that trusts no feed could take
 * no order.
 */
export function readTrustedFeedKeys(path: string): FeedPublicKey[] {
  const files = statSync(path).isDirectory()
    ? readdirSync(path)
        .filter((f) => f.endsWith('.pem'))
        .sort()
        .map((f) => join(path, f))
    : [path];
  const keys = [...new Map(files.map((f) => readFeedPublicKey(f)).map((k) => [k.keyId, k])).values()];
  if (keys.length === 0) throw new Error(`no feed public key (*.pem) in ${path}`);
  return keys;
}

export function verifyQuoteSignature(fields: QuoteFields, signature: Buffer, key: FeedPublicKey): boolean {
  return fields.keyId === key.keyId && verify('sha256', canonicalQuoteBytes(fields), key.key, signature);
}
