import { formatCents } from '../common/money.js';
import type { AuditRow } from './audit-reads.js';

/** The SEng 468 audit log (logfile.xsd): a <log> of events, money to the cent, times in Unix ms. */
export const LOG_HEADER = '<?xml version="1.0" encoding="UTF-8"?>\n<log>\n';
export const LOG_FOOTER = '</log>\n';

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function money(cents: string | null): string | null {
  return cents === null ? null : formatCents(BigInt(cents));
}

/**
 * One event as XML. Elements follow the schema's order within each type (the
 * schema admits any order: xsd:all); optional ones are left out when empty.
 */
export function eventXml(e: AuditRow): string {
  const fields: [string, string | null][] = [
    ['timestamp', e.at_ms],
    ['server', e.server],
    ['transactionNum', e.transaction_num],
  ];
  switch (e.event_type) {
    case 'quoteServer':
      fields.push(
        ['price', money(e.price_cents)],
        ['stockSymbol', e.symbol],
        ['username', e.username],
        ['quoteServerTime', e.quote_server_time_ms],
        ['cryptokey', e.cryptokey],
      );
      break;
    case 'accountTransaction':
      fields.push(['action', e.action], ['username', e.username], ['funds', money(e.funds_cents)]);
      break;
    default:
      fields.push(
        ['command', e.command],
        ['username', e.username],
        ['stockSymbol', e.symbol],
        ['filename', e.filename],
        ['funds', money(e.funds_cents)],
      );
      if (e.event_type === 'errorEvent') fields.push(['errorMessage', e.error_message]);
      if (e.event_type === 'debugEvent') fields.push(['debugMessage', e.debug_message]);
  }
  const body = fields
    .filter((f): f is [string, string] => f[1] !== null && f[1] !== '')
    .map(([name, value]) => `    <${name}>${escapeXml(value)}</${name}>\n`)
    .join('');
  return `  <${e.event_type}>\n${body}  </${e.event_type}>\n`;
}
