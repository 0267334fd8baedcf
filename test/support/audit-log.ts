import { readFileSync } from 'node:fs';
import { validateXML } from 'xmllint-wasm';
import { PACKAGE_ROOT } from '../../src/common/paths.js';

/**
 * logfile.xsd with only its two unixTimeLimits bounds widened (they admit
 * January–April 2018 only), the structure otherwise unchanged.
 */
function widenedSchema(): string {
  const xsd = readFileSync(`${PACKAGE_ROOT}/seng468/logfile.xsd`, 'utf8');
  const widened = xsd
    .replace('<xsd:minInclusive value="1514764800000"/>', '<xsd:minInclusive value="0"/>')
    .replace('<xsd:maxInclusive value="1525132800000"/>', '<xsd:maxInclusive value="99999999999999"/>');
  if (widened === xsd) throw new Error('logfile.xsd no longer has the bounds this test widens');
  return widened;
}

const EVENT = /^ {2}<(\w+)>\n([\s\S]*?)^ {2}<\/\1>\n/gm;
const FIELD = /<(\w+)>([^<]*)<\/\1>/g;

export interface LogEvent {
  type: string;
  fields: Record<string, string>;
}

/** The events of a hedge audit log (its own layout: one element per event, two-space indent). */
export function parseAuditLog(xml: string): LogEvent[] {
  return [...xml.matchAll(EVENT)].map(([, type = '', body = '']) => ({
    type,
    fields: Object.fromEntries([...body.matchAll(FIELD)].map(([, name = '', value = '']) => [name, value])),
  }));
}

/**
 * Validates with libxml2 (xmllint-wasm). Its build refuses more than 512
 * children under one element, which the schema allows (an unbounded choice), so
 * the log is validated in slices of 500 events, each in its own <log>: the
 * root's content model being an unbounded choice of independent elements, the
 * whole is valid exactly when every slice is.
 */
export async function validateAuditLog(xml: string): Promise<string[]> {
  const schema = [{ fileName: 'logfile.xsd', contents: widenedSchema() }];
  const body = xml.slice(xml.indexOf('<log>') + '<log>'.length, xml.lastIndexOf('</log>')).replace(/^\n/, '');
  const events = body.match(EVENT) ?? [];
  if (events.join('') !== body) return ['the log holds something other than whole events'];
  if (!xml.startsWith('<?xml') || !xml.trimEnd().endsWith('</log>'))
    return ['the log is not one <log> document'];
  const errors: string[] = [];
  for (let i = 0; i < events.length; i += 500) {
    const slice = `<?xml version="1.0"?>\n<log>\n${events.slice(i, i + 500).join('')}</log>\n`;
    const result = await validateXML({ xml: [{ fileName: `events-${i}.xml`, contents: slice }], schema });
    errors.push(...result.errors.map((e) => e.message));
  }
  return errors;
}
