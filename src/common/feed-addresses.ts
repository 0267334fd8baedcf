import { InvalidArgumentError } from 'commander';

/** The addresses in a comma-separated list of feeds, each once, in order. */
export function feedAddresses(list: string): string[] {
  return [...new Set(list.split(',').map((a) => a.trim()))].filter((a) => a.length > 0);
}

/** A --feed list as settings carry it: "host:port" entries joined by commas; at least one. */
export function feedAddressList(text: string): string {
  const addresses = feedAddresses(text);
  if (addresses.length === 0) throw new InvalidArgumentError('expected at least one feed address');
  return addresses.join(',');
}
