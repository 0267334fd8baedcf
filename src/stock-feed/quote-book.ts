import { type KeyObject, sign } from 'node:crypto';
import { formatCents } from '../common/money.js';
import { canonicalQuoteBytes, type QuoteFields } from '../common/quote-codec.js';
import type { SignedQuote__Output } from '../gen/hedge/v1/SignedQuote.js';
import type { PriceModel } from './price-model.js';
import type { SigningKey } from './signing-key.js';

/** A quote as it goes on the wire, signed with `privateKey`. */
export function signQuote(fields: QuoteFields, privateKey: KeyObject): SignedQuote__Output {
  return {
    symbol: fields.symbol,
    price: formatCents(fields.priceCents),
    issued_at_ms: fields.issuedAtMs.toString(),
    expires_at_ms: fields.expiresAtMs.toString(),
    sequence: fields.sequence.toString(),
    key_id: fields.keyId,
    signature: sign('sha256', canonicalQuoteBytes(fields), privateKey),
  };
}

/**
 * Signed quotes for the current tick. A symbol's quote is signed the first time
 * it is asked for in a tick and shared by every request and stream after that,
 * so the signing cost follows the symbols in use, not the symbols quoted. It is
 * issued at the tick's start, so every feed with the same seed signs the same
 * fields for a tick (only the key differs). In a long tick (a fixed-price feed)
 * it is signed afresh, issued now, when half its life is gone.
 */
export class QuoteBook {
  private signed = new Map<string, SignedQuote__Output>();
  private signedAtSequence: bigint;

  constructor(
    private readonly model: PriceModel,
    private readonly key: SigningKey,
    private readonly ttlMs: number,
  ) {
    this.signedAtSequence = model.sequence;
  }

  /**
   * The signed quote of `symbol` for tick `at` (default: the clock's). A stream's
   * push names the tick it read once, so that every symbol of one push is of one
   * tick even if the clock passes a boundary meanwhile; a tick older than the
   * newest signed one is signed without being kept.
   */
  quote(symbol: string, at?: bigint): SignedQuote__Output | undefined {
    const sequence = at ?? this.model.sequence;
    if (sequence < this.signedAtSequence) return this.sign(symbol, sequence);
    if (sequence > this.signedAtSequence) {
      this.signed = new Map();
      this.signedAtSequence = sequence;
    }
    const cached = this.signed.get(symbol);
    // A quote outlives its tick only while it is fresh: however long a tick, a
    // client never gets one with less than half its validity left.
    if (cached && Number(cached.expires_at_ms) - Date.now() > this.ttlMs / 2) return cached;
    const quote = this.sign(symbol, sequence);
    if (quote) this.signed.set(symbol, quote);
    return quote;
  }

  private sign(symbol: string, sequence: bigint): SignedQuote__Output | undefined {
    const priceCents = this.model.priceAt(symbol, sequence);
    if (priceCents === undefined) return undefined;
    const now = BigInt(Date.now());
    const tickStart = this.model.tickStartMs(sequence);
    const issuedAtMs = now - tickStart < BigInt(Math.floor(this.ttlMs / 2)) ? tickStart : now;
    return signQuote(
      {
        symbol,
        priceCents,
        issuedAtMs,
        expiresAtMs: issuedAtMs + BigInt(this.ttlMs),
        sequence,
        keyId: this.key.publicKey.keyId,
      },
      this.key.privateKey,
    );
  }
}
