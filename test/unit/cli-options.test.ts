import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { intListOption, intOption } from '../../src/common/cli-options.js';

describe('intOption', () => {
  const parse = intOption(0, 5000);

  it.each(['0', '7', '1000', '5000'])('takes the plain whole number %j', (text) => {
    expect(parse(text)).toBe(Number(text));
  });

  it.each(['', ' ', '1e3', '0x10', '010', '+5', '-0', '1.0', ' 7', '7 ', '5001', '-1', 'abc'])(
    'refuses %j',
    (text) => {
      expect(() => parse(text)).toThrow(InvalidArgumentError);
      expect(() => parse(text)).toThrow('expected a whole number from 0 to 5000');
    },
  );
});

describe('intListOption', () => {
  const parse = intListOption(1, 100);

  it('takes plain whole numbers, spaces around the commas allowed', () => {
    expect(parse('1, 2,30')).toEqual([1, 2, 30]);
  });

  it.each(['1,1e1', '0x10', '2,0b1', '1,2.5'])('refuses %j', (text) => {
    expect(() => parse(text)).toThrow('expected a whole number from 1 to 100');
  });
});
