// Visual constants of the training views: one palette, used by every training component.
import { interpolateYlOrRd, schemeTableau10 } from "d3";

/** Scalar timelines: one colour per scalar, in the order the run lists them. */
export const SCALAR_COLORS: readonly string[] = schemeTableau10;

export function scalarColor(index: number): string {
  return SCALAR_COLORS[index % SCALAR_COLORS.length];
}

/** Neuron polylines. */
export const BAND_OUTER = "#d5e1f0"; // p05–p95
export const BAND_INNER = "#a9c0df"; // p25–p75
export const BAND_MEDIAN = "#1f3b73"; // p50
export const LINE_COLOR = "#4a6a9a"; // a sampled neuron (drawn translucent)
export const OUTLIER_COLOR = "#e6550d"; // an outlier neuron (drawn on top)
export const SELECTED_COLOR = "#111111"; // the selected neuron

/** Anomaly score (0 = normal) -> fill; sites without a score are grey. */
export const ANOMALY_INTERPOLATOR = interpolateYlOrRd;
export const NO_SCORE_COLOR = "#e4e6ea";
export const FIRST_COLOR = "#b30000"; // "failed here first" marker
export const FLAG_COLOR = "#6b3fa0"; // flag badges

/** Credit flow: sign of a contribution. */
export const POSITIVE_COLOR = "#2166ac";
export const NEGATIVE_COLOR = "#d6604d";

/** Snapshot window on the timeline. */
export const WINDOW_COLOR = "#4a7bd0";
