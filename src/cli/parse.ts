import { InvalidArgumentError } from 'commander';

/** Commander argument parsers that reject bad values with a message naming the rule. */
export function integerIn(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`must be an integer between ${min} and ${max} (got ${JSON.stringify(value)})`);
    }
    return n;
  };
}

export function numberIn(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
      throw new InvalidArgumentError(`must be a number between ${min} and ${max} (got ${JSON.stringify(value)})`);
    }
    return n;
  };
}

export function oneOf<T extends string>(choices: readonly T[]): (value: string) => T {
  return (value) => {
    if (!(choices as readonly string[]).includes(value)) {
      throw new InvalidArgumentError(`must be one of ${choices.join(', ')} (got ${JSON.stringify(value)})`);
    }
    return value as T;
  };
}
