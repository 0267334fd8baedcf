/**
 * The one canonical byte string a quote's signature covers. The feed signs it and
 * replicas and clients verify it; a change to any field changes the bytes.
 */
export interface QuoteFields {
  symbol: string;
  priceCents: bigint;
  issuedAtMs: bigint;
  expiresAtMs: bigint;
  sequence: bigint;
  keyId: string;
}

export const SIGNATURE_ALGORITHM = 'RSASSA-PKCS1-v1_5-SHA256';

export function canonicalQuoteText(q: QuoteFields): string {
  return ['hedge.quote.v1', q.symbol, q.priceCents, q.issuedAtMs, q.expiresAtMs, q.sequence, q.keyId].join(
    '\n',
  );
}

export function canonicalQuoteBytes(q: QuoteFields): Buffer {
  return Buffer.from(canonicalQuoteText(q), 'utf8');
}
