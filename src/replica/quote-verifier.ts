import { invalidArgument } from '../common/errors.js';
import { type FeedPublicKey, verifyQuoteSignature } from '../common/feed-key.js';
import { parseAmount } from '../common/money.js';
import { canonicalQuoteText, type QuoteFields } from '../common/quote-codec.js';
import { parseSymbol } from '../common/symbols.js';
import type { SignedQuote__Output } from '../gen/hedge/v1/SignedQuote.js';

export interface VerifiedQuote extends QuoteFields {
  signature: Buffer;
  /** The signature as SQL and the cache carry it. */
  signatureBase64: string;
}

const NON_NEGATIVE_INTEGER = /^(0|[1-9][0-9]{0,18})$/;
const RSA_2048_SIGNATURE_BYTES = 256;
/** Within a tick every client trades on the same few quotes; a few thousand entries cover many ticks. */
const CACHE_ENTRIES = 4_096;

function parseCount(text: string, field: string): bigint {
  if (!NON_NEGATIVE_INTEGER.test(text))
    throw invalidArgument('INVALID_QUOTE', `quote.${field} is malformed`, `quote.${field}`);
  return BigInt(text);
}

/**
 * Accepts a quote only if its signature is a trusted feed's over exactly its fields.
 * Its expiry is not judged here: the database's clock does that, in the
 * transaction that uses it. Signatures already verified are remembered with the
 * exact content they cover (RSA verification was 15 % of a replica's CPU under
 * load, all of it on repeats); a different content under a known signature is
 * verified afresh, and fails. A forged or tampered quote is a bad argument
 * (INVALID_ARGUMENT), not a failure of the caller's credentials: a generic
 * client meeting UNAUTHENTICATED would sign in again, which cannot help.
 */
export class QuoteVerifier {
  private readonly verified = new Map<string, string>();
  /** The trusted feeds' keys by key id: any of them may have signed a quote. */
  private readonly keys: Map<string, FeedPublicKey>;

  constructor(keys: FeedPublicKey | FeedPublicKey[]) {
    this.keys = new Map((Array.isArray(keys) ? keys : [keys]).map((k) => [k.keyId, k]));
  }

  verify(quote: SignedQuote__Output | null): VerifiedQuote {
    if (!quote)
      throw invalidArgument('QUOTE_MISSING', 'a signed quote from the stock feed is required', 'quote');
    const fields: VerifiedQuote = {
      symbol: parseSymbol(quote.symbol, 'quote.symbol'),
      priceCents: parseAmount(quote.price, 'quote.price'),
      issuedAtMs: parseCount(quote.issued_at_ms, 'issued_at_ms'),
      expiresAtMs: parseCount(quote.expires_at_ms, 'expires_at_ms'),
      sequence: parseCount(quote.sequence, 'sequence'),
      keyId: quote.key_id,
      signature: quote.signature,
      signatureBase64: quote.signature.toString('base64'),
    };
    const key = this.keys.get(quote.key_id);
    if (!key) {
      throw invalidArgument(
        'UNKNOWN_SIGNING_KEY',
        'the quote was not signed by a stock feed this server trusts',
        'quote.key_id',
      );
    }
    const content = canonicalQuoteText(fields);
    if (this.verified.get(fields.signatureBase64) === content) return fields;
    if (
      quote.signature.length !== RSA_2048_SIGNATURE_BYTES ||
      !verifyQuoteSignature(fields, quote.signature, key)
    ) {
      throw invalidArgument(
        'BAD_SIGNATURE',
        "the quote's signature does not match its contents",
        'quote.signature',
      );
    }
    if (this.verified.size >= CACHE_ENTRIES) this.verified.clear();
    this.verified.set(fields.signatureBase64, content);
    return fields;
  }

  /** A verified quote that is for `symbol`, the symbol of the order or command it comes with. */
  verifyFor(symbol: string, quote: SignedQuote__Output | null): VerifiedQuote {
    const verified = this.verify(quote);
    if (verified.symbol !== symbol) {
      throw invalidArgument(
        'QUOTE_SYMBOL_MISMATCH',
        `the command is for ${symbol} but the quote is for ${verified.symbol}`,
        'quote.symbol',
      );
    }
    return verified;
  }
}

/** A verified quote as an operation's parameters carry it to SQL. */
export function quoteParams(q: VerifiedQuote) {
  return {
    price_cents: q.priceCents.toString(),
    issued_at_ms: q.issuedAtMs.toString(),
    expires_at_ms: q.expiresAtMs.toString(),
    sequence: q.sequence.toString(),
    key_id: q.keyId,
    signature: q.signatureBase64,
  };
}
