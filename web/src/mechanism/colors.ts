// Colours of the mechanism page.
import { interpolateViridis, scaleSequential } from "d3";

export const POSITIVE = "#e08214"; // bundle weight > 0: excites
export const NEGATIVE = "#5e3c99"; // bundle weight < 0: inhibits

export const signColor = (w: number): string => (w >= 0 ? POSITIVE : NEGATIVE);

/** Cell colour of the cluster x class matrix, over [lo, hi]. */
export function matrixScale(lo: number, hi: number): (v: number) => string {
  const s = scaleSequential(interpolateViridis).domain([lo, hi > lo ? hi : lo + 1e-9]);
  return (v: number) => s(v);
}
