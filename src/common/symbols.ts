import { invalidArgument } from './errors.js';
import { quoteInput } from './money.js';

/** A ticker symbol: 1 to 8 characters, an upper-case letter then letters or digits. */
const SYMBOL = /^[A-Z][A-Z0-9]{0,7}$/;

export function isSymbol(text: string): boolean {
  return SYMBOL.test(text);
}

export function parseSymbol(text: string, field = 'symbol'): string {
  if (!SYMBOL.test(text)) {
    throw invalidArgument(
      'INVALID_SYMBOL',
      `${field} must be 1 to 8 upper-case letters or digits starting with a letter; got ${quoteInput(text)}`,
      field,
    );
  }
  return text;
}
