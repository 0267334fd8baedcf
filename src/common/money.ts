import { invalidArgument } from './errors.js';

/**
 * Money is integer cents: bigint in TypeScript, BIGINT in SQL, and on the wire a
 * decimal-dollar string ("12.34"), parsed here and nowhere else.
 */

/** The largest single amount a request may carry: ten trillion dollars. */
export const MAX_AMOUNT_CENTS = 1_000_000_000_000_000n;
/** The most shares one order may name. */
const MAX_SHARES = 1_000_000_000_000n;

/** The grammar alone; the size is checked after, so that a long number is told it is over the limit. */
const DECIMAL_DOLLARS = /^(0|[1-9][0-9]*)(?:\.([0-9]{1,2}))?$/;
/** More whole-dollar digits than the largest amount has: over the limit without building a huge BigInt. */
const MAX_WHOLE_DIGITS = (MAX_AMOUNT_CENTS / 100n).toString().length;
const POSITIVE_INTEGER = /^[1-9][0-9]{0,18}$/;

/** A positive amount of decimal dollars with at most two fractional digits, in cents. */
export function parseAmount(text: string, field = 'amount'): bigint {
  const match = DECIMAL_DOLLARS.exec(text);
  if (!match && text.startsWith('-') && DECIMAL_DOLLARS.test(text.slice(1))) {
    throw invalidArgument(
      'INVALID_AMOUNT',
      `${field} must be greater than zero; got ${quoteInput(text)}`,
      field,
    );
  }
  if (!match) {
    throw invalidArgument(
      'INVALID_AMOUNT',
      `${field} must be decimal dollars with at most two fractional digits, like "12.34"; got ${quoteInput(text)}`,
      field,
    );
  }
  const whole = match[1] ?? '0';
  const cents =
    whole.length > MAX_WHOLE_DIGITS
      ? MAX_AMOUNT_CENTS + 1n
      : BigInt(whole) * 100n + BigInt((match[2] ?? '').padEnd(2, '0'));
  if (cents <= 0n) throw invalidArgument('INVALID_AMOUNT', `${field} must be greater than zero`, field);
  if (cents > MAX_AMOUNT_CENTS) {
    throw invalidArgument(
      'INVALID_AMOUNT',
      `${field} is over the limit: at most ${formatCents(MAX_AMOUNT_CENTS)}; got ${quoteInput(text)}`,
      field,
    );
  }
  return cents;
}

/** A whole number of at least 1 that fits a BIGINT, written plainly (no sign, no leading zero). */
export function isPositiveInteger(text: string): boolean {
  return POSITIVE_INTEGER.test(text);
}

/** A positive whole number of shares, given as the decimal string an int64 field decodes to. */
export function parseShares(text: string, field = 'shares'): bigint {
  if (!POSITIVE_INTEGER.test(text)) {
    throw invalidArgument(
      'INVALID_SHARES',
      `${field} must be a whole number of at least 1; got ${quoteInput(text)}`,
      field,
    );
  }
  const shares = BigInt(text);
  if (shares > MAX_SHARES)
    throw invalidArgument('INVALID_SHARES', `${field} must not exceed ${MAX_SHARES}`, field);
  return shares;
}

export function formatCents(cents: bigint): string {
  const sign = cents < 0n ? '-' : '';
  const abs = cents < 0n ? -cents : cents;
  return `${sign}${abs / 100n}.${(abs % 100n).toString().padStart(2, '0')}`;
}

/** A short, printable rendering of untrusted input for an error message. */
export function quoteInput(text: string): string {
  const shown = text.length > 40 ? `${text.slice(0, 40)}…` : text;
  return JSON.stringify(shown);
}
