import { readFileSync } from 'node:fs';

/**
 * What a JSON file holds, or undefined when there is nothing to read: no file, or
 * one that is not JSON (a writer that died part-way). Callers check its shape.
 */
export function readJsonFile(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}
