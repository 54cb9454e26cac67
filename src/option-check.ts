/**
 * The one check of a numeric option, for the modules that take plain option objects
 * (machine, stress runs): `TypeError` for a non-number, `RangeError` naming the option,
 * the rule and the value otherwise. Returns the value.
 */
export function checkNumberOption(name: string, value: number, min: number, max: number, integer: boolean): number {
  if (typeof value !== 'number') throw new TypeError(`options.${name} must be a number (got ${typeof value})`);
  if (!(value >= min && value <= max) || (integer && !Number.isInteger(value))) {
    throw new RangeError(`options.${name} must be ${integer ? 'an integer' : 'a number'} between ${min} and ${max} (got ${value})`);
  }
  return value;
}

/** Rejects option names a function does not know (TypeError naming the ones it does): a misspelt option is bad input, never ignored. */
export function checkOptionNames(options: unknown, known: readonly string[], what: string): void {
  if (typeof options !== 'object' || options === null) throw new TypeError(`${what} options must be an object`);
  for (const name of Object.keys(options)) {
    if (!known.includes(name)) throw new TypeError(`unknown ${what} option ${JSON.stringify(name)} (known: ${known.join(', ')})`);
  }
}
