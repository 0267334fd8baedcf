import { invalidArgument } from './errors.js';
import { quoteInput } from './money.js';

/** A ticker symbol: an upper-case letter then letters or digits. */
const SYMBOL = /^[A-Z][A-Z0-9]*$/;
/** hedge's own symbols (the Trading service, the feed) have up to 8 characters. */
const MAX_SYMBOL_LENGTH = 8;
/**
 * The SEng 468 log schema (logfile.xsd, stockSymbolType) holds symbols of at
 * most 3 characters, so the DayTrading service takes no longer one: a command
 * naming one could not be logged.
 */
export const SENG468_SYMBOL_LENGTH = 3;

export function isSymbol(text: string, maxLength = MAX_SYMBOL_LENGTH): boolean {
  return text.length <= maxLength && SYMBOL.test(text);
}

export function parseSymbol(text: string, field = 'symbol', maxLength = MAX_SYMBOL_LENGTH): string {
  if (!isSymbol(text, maxLength)) {
    throw invalidArgument(
      'INVALID_SYMBOL',
      `${field} must be 1 to ${maxLength} upper-case letters or digits starting with a letter; got ${quoteInput(text)}`,
      field,
    );
  }
  return text;
}
