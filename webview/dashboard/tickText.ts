/**
 * A linear axis's tick label: four significant digits, because chart.js writes the ticks of a flat curve
 * as 0.10000000000000003. DOM-free, so the unit tests import it.
 *
 *   tickText(0.10000000000000003)   // '0.1'
 *   tickText(12345.678)             // '12350'
 */
export function tickText(value: number | string): string {
  return typeof value === 'number' ? String(Number(value.toPrecision(4))) : value;
}
