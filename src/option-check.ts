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

/**
 * The one check of option names: a `TypeError` unless `options` is an object (or undefined)
 * whose own keys are all in `known`, naming the first unknown one and listing the known
 * ones. A misspelt option is bad input, never silently ignored. `what` names the object in
 * the message (`options`, `event "req": options`).
 */
export function checkOptionNames(options: unknown, known: readonly string[], what = 'options'): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`${what} must be an object (got ${options === null ? 'null' : Array.isArray(options) ? 'array' : typeof options})`);
  }
  for (const key in options) {
    if (!Object.hasOwn(options, key)) continue;
    if (!known.includes(key)) {
      throw new TypeError(`${what}: unknown option ${JSON.stringify(key)} (the options are ${known.join(', ')})`);
    }
  }
}
