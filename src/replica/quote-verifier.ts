import { invalidArgument, unauthenticated } from '../common/errors.js';
import { type FeedPublicKey, verifyQuoteSignature } from '../common/feed-key.js';
import { parseAmount } from '../common/money.js';
import type { QuoteFields } from '../common/quote-codec.js';
import { parseSymbol } from '../common/symbols.js';
import type { SignedQuote__Output } from '../gen/hedge/v1/SignedQuote.js';

export interface VerifiedQuote extends QuoteFields {
  signature: Buffer;
}

const NON_NEGATIVE_INTEGER = /^(0|[1-9][0-9]{0,18})$/;
const RSA_2048_SIGNATURE_BYTES = 256;

function parseCount(text: string, field: string): bigint {
  if (!NON_NEGATIVE_INTEGER.test(text)) throw invalidArgument('INVALID_QUOTE', `quote.${field} is malformed`);
  return BigInt(text);
}

/**
 * A quote whose signature is the feed's over exactly these fields. Its expiry is
 * not judged here: the database's clock does that, in the transaction that uses it.
 */
export function verifyQuote(quote: SignedQuote__Output | null, key: FeedPublicKey): VerifiedQuote {
  if (!quote) throw invalidArgument('QUOTE_MISSING', 'a signed quote from the stock feed is required');
  const verified: VerifiedQuote = {
    symbol: parseSymbol(quote.symbol, 'quote.symbol'),
    priceCents: parseAmount(quote.price, 'quote.price'),
    issuedAtMs: parseCount(quote.issued_at_ms, 'issued_at_ms'),
    expiresAtMs: parseCount(quote.expires_at_ms, 'expires_at_ms'),
    sequence: parseCount(quote.sequence, 'sequence'),
    keyId: quote.key_id,
    signature: quote.signature,
  };
  if (quote.key_id !== key.keyId) {
    throw unauthenticated(
      'UNKNOWN_SIGNING_KEY',
      'the quote was not signed by the stock feed this server trusts',
    );
  }
  if (
    quote.signature.length !== RSA_2048_SIGNATURE_BYTES ||
    !verifyQuoteSignature(verified, quote.signature, key)
  ) {
    throw unauthenticated('BAD_SIGNATURE', "the quote's signature does not match its contents");
  }
  return verified;
}
