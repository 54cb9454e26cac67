import { type Design, type DesignName, DESIGN_NAMES } from './design.js';
import { lockedPageDesign } from './locked-page.js';
import { percpuDesign } from './percpu.js';
import { lockedDesign, sharedDesign } from './shared-ring.js';

/** The four designs, by name (the order of the reports). */
export const DESIGNS: Readonly<Record<DesignName, Design>> = {
  percpu: percpuDesign,
  shared: sharedDesign,
  'locked-page': lockedPageDesign,
  locked: lockedDesign,
};

export function designNamed(name: string): Design {
  if (!(DESIGN_NAMES as readonly string[]).includes(name)) {
    throw new RangeError(`design must be one of ${DESIGN_NAMES.join(', ')} (got ${JSON.stringify(name)})`);
  }
  return DESIGNS[name as DesignName];
}
