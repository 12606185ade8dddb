// Visual constants shared by every view: one colour per image set, everywhere.
import type { SetKey } from "./types";

export const SETS: SetKey[] = ["A", "B", "C"];

export const SET_COLOR: Record<SetKey, string> = {
  A: "#d62728", // adversarial: red
  B: "#1f77b4", // normal source: blue
  C: "#2ca02c", // normal target: green
};

export const SET_LABEL: Record<SetKey, string> = {
  A: "adversarial",
  B: "normal source",
  C: "normal target",
};

export const DIVERGENCE_COLOR = "#ff7f0e";
export const MERGE_COLOR = "#9467bd";
export const FONT = "13px system-ui, sans-serif";
