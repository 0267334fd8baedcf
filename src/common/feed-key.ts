import { createHash, createPublicKey, type KeyObject, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
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

export function verifyQuoteSignature(fields: QuoteFields, signature: Buffer, key: FeedPublicKey): boolean {
  return fields.keyId === key.keyId && verify('sha256', canonicalQuoteBytes(fields), key.key, signature);
}
