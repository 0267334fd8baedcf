import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { HedgeError } from '../../src/common/errors.js';
import { formatCents, MAX_AMOUNT_CENTS, parseAmount, parseShares } from '../../src/common/money.js';

function rejection(fn: () => unknown): HedgeError {
  try {
    fn();
  } catch (err) {
    if (err instanceof HedgeError) return err;
    throw err;
  }
  throw new Error('expected a HedgeError');
}

describe('parseAmount', () => {
  it.each([
    ['1', 100n],
    ['0.01', 1n],
    ['12.3', 1230n],
    ['12.34', 1234n],
    ['10000000000000', 1_000_000_000_000_000n],
  ])('parses %s to %s cents', (text, cents) => {
    expect(parseAmount(text)).toBe(cents);
  });

  it.each([
    '',
    '0',
    '0.00',
    '-5',
    '1.001',
    '1.',
    '.5',
    '+5',
    '1e3',
    ' 5',
    '5 ',
    'abc',
    '0x10',
    '١٢',
    '01.00',
    '10000000000000.01',
    '99999999999999999999999',
    'NaN',
    'Infinity',
  ])('refuses %j with INVALID_ARGUMENT', (text) => {
    const err = rejection(() => parseAmount(text));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.reason).toBe('INVALID_AMOUNT');
  });

  it('names the largest amount in its refusal', () => {
    expect(rejection(() => parseAmount('10000000000000.01')).message).toContain(
      formatCents(MAX_AMOUNT_CENTS),
    );
  });

  it.each(['10000000000000.01', '99999999999999999999.99', '123456789012345678901234567890', '9'.repeat(40)])(
    'refuses %j as over the limit, naming the limit, not as a fractional-digit error',
    (text) => {
      const { message, reason } = rejection(() => parseAmount(text));
      expect(reason).toBe('INVALID_AMOUNT');
      expect(message).toContain(`over the limit: at most ${formatCents(MAX_AMOUNT_CENTS)}`);
      expect(message).not.toMatch(/fractional/);
    },
  );

  it('refuses a well-formed amount with too many fractional digits as such, however long', () => {
    expect(rejection(() => parseAmount('99999999999999999999.999')).message).toMatch(
      /at most two fractional digits/,
    );
    expect(rejection(() => parseAmount('-99999999999999999999.99')).message).toMatch(/greater than zero/);
  });
});

describe('parseShares', () => {
  it('accepts positive whole numbers', () => {
    expect(parseShares('1')).toBe(1n);
    expect(parseShares('1000000000000')).toBe(1_000_000_000_000n);
  });

  it.each(['0', '-1', '1.5', '', 'ten', '1000000000001', '9223372036854775807', '01'])(
    'refuses %j',
    (text) => {
      expect(rejection(() => parseShares(text)).reason).toBe('INVALID_SHARES');
    },
  );
});

describe('formatCents', () => {
  it.each([
    [0n, '0.00'],
    [5n, '0.05'],
    [100n, '1.00'],
    [123456n, '1234.56'],
    [-1n, '-0.01'],
    [100_000_000_000_000_000n, '1000000000000000.00'],
  ])('%s cents is %s', (cents, text) => {
    expect(formatCents(cents)).toBe(text);
  });

  it('round-trips with parseAmount', () => {
    for (const cents of [1n, 99n, 100n, 101n, 987_654_321n])
      expect(parseAmount(formatCents(cents))).toBe(cents);
  });
});
