// A tracked model's network for the training view: the network view's layout (network/model.ts)
// with units named by their tracked site ("generator/main.2"), coloured by anomaly score, with
// flags and the "failed here first" marks. No DOM.
import { scaleSequential, type ScaleSequential } from "d3";
import type { NetworkInfo, TrainingAnomalies, TrainingInfo, TrainingSite } from "../lib/types";
import type { Unit } from "../network/hierarchy";
import { prepare, type PreparedNetwork } from "../network/model";
import { ANOMALY_INTERPOLATOR, NO_SCORE_COLOR } from "./config";

export interface TrackedModel {
  name: string;
  cls: string | null;
  prepared: PreparedNetwork;
  /** network site name (the module) -> tracked site name, for the sites the run records */
  tracked: Map<string, string>;
  fromSites: boolean; // no network was recorded: the tracked sites in a chain
}

/** A chain of the tracked sites, for a model whose network was not recorded. */
export function chainNetwork(sites: TrainingSite[]): NetworkInfo {
  return {
    sites: sites.map((s, index) => ({
      name: s.module,
      channels: s.channels,
      kind: s.kind,
      segment: [],
      shape: [s.channels],
      index,
    })),
    edges: sites.slice(1).map((s, i) => [sites[i].module, s.module] as [string, string]),
    graph_source: "tracked sites",
  };
}

export function trackedModels(info: TrainingInfo): TrackedModel[] {
  const names = Object.keys(info.models);
  for (const s of info.sites) if (s.model && !names.includes(s.model)) names.push(s.model);
  const out: TrackedModel[] = [];
  for (const name of names) {
    const sites = info.sites.filter((s) => s.model === name || (names.length === 1 && !s.model));
    const facts = info.models[name];
    const network = facts?.network && facts.network.sites.length ? facts.network : null;
    if (!network && !sites.length) continue;
    const tracked = new Map<string, string>();
    for (const s of sites) tracked.set(s.module || s.name, s.name);
    // a network whose site names are already the tracked names (one model, no prefix)
    if (network) for (const s of network.sites) if (!tracked.has(s.name) && sites.some((t) => t.name === s.name)) tracked.set(s.name, s.name);
    out.push({
      name,
      cls: facts?.class ?? null,
      prepared: prepare(network ?? chainNetwork(sites)),
      tracked,
      fromSites: !network,
    });
  }
  return out;
}

/** The tracked site names a unit stands for (none: an untracked site or segment). */
export function unitSites(model: TrackedModel, unit: Unit): string[] {
  const out: string[] = [];
  for (const i of unit.sites) {
    const t = model.tracked.get(model.prepared.sites[i].name);
    if (t) out.push(t);
  }
  return out;
}

export interface UnitMark {
  score: number | null; // the highest anomaly score of its sites
  flags: string[];
  first: { detector: string; site: string; snapshot: number; step: number }[];
}

export function unitMark(sites: string[], anomalies: TrainingAnomalies | null): UnitMark {
  if (!anomalies) return { score: null, flags: [], first: [] };
  let score: number | null = null;
  const flags = new Set<string>();
  for (const s of sites) {
    const a = anomalies.sites[s];
    if (!a) continue;
    if (Number.isFinite(a.score)) score = score === null ? a.score : Math.max(score, a.score);
    for (const f of a.flags) flags.add(f);
  }
  return { score, flags: [...flags], first: firstAt(sites, anomalies) };
}

/** The detectors whose first failure is at one of `sites`. */
export function firstAt(sites: string[], anomalies: TrainingAnomalies | null): UnitMark["first"] {
  if (!anomalies) return [];
  const out: UnitMark["first"] = [];
  for (const [detector, f] of Object.entries(anomalies.first ?? {})) {
    if (f && sites.includes(f.site)) out.push({ detector, ...f });
  }
  return out;
}

/** Score -> colour: 0 is the palest, the domain ends at the highest score (at least 1). */
export function anomalyScale(anomalies: TrainingAnomalies | null): ScaleSequential<string> {
  let max = 1;
  if (anomalies) for (const a of Object.values(anomalies.sites)) if (Number.isFinite(a.score)) max = Math.max(max, a.score);
  return scaleSequential(ANOMALY_INTERPOLATOR).domain([0, max]);
}

export function scoreColor(scale: ScaleSequential<string>, score: number | null): string {
  return score === null ? NO_SCORE_COLOR : scale(Math.max(0, score));
}

/** Black or white text on a fill. */
export function textOn(fill: string): string {
  const m = /^rgb\((\d+), ?(\d+), ?(\d+)\)$/.exec(fill) ?? /^#(..)(..)(..)$/.exec(fill);
  if (!m) return "#222";
  const [r, g, b] = m.slice(1, 4).map((v) => (fill.startsWith("#") ? parseInt(v, 16) : Number(v)));
  return 0.299 * r + 0.587 * g + 0.114 * b < 140 ? "#fff" : "#222";
}

/** Abbreviation of a flag for a badge ("dead_neurons" -> "dead"). */
export function flagBadge(flag: string, maxChars: number): string {
  const word = flag.split(/[_\s-]+/)[0] || flag;
  return word.length <= maxChars ? word : word.slice(0, Math.max(1, maxChars - 1)) + "…";
}

/** Legend ticks of the colour scale. */
export function legendTicks(scale: ScaleSequential<string>, n = 4): number[] {
  const [lo, hi] = scale.domain();
  return Array.from({ length: n + 1 }, (_, i) => lo + ((hi - lo) * i) / n);
}

/** Run-level findings as short lines ("mode_collapse: 0.82"), skipping empty ones. */
export function runFindings(run: Record<string, unknown> | undefined): { name: string; text: string; detail: string }[] {
  if (!run) return [];
  const out: { name: string; text: string; detail: string }[] = [];
  for (const [name, value] of Object.entries(run)) {
    if (value === null || value === undefined || value === false) continue;
    let text: string;
    if (typeof value === "number") text = Number.isInteger(value) ? String(value) : value.toPrecision(3);
    else if (typeof value === "string") text = value;
    else if (value === true) text = "yes";
    else if (typeof value === "object") {
      const o = value as Record<string, unknown>;
      if (["detected", "flag", "flagged"].some((k) => o[k] === false || o[k] === null)) continue;
      const detected = ["detected", "flag", "flagged"].some((k) => o[k] === true);
      const num = ["score", "value", "ratio"].find((k) => typeof o[k] === "number");
      const parts: string[] = [];
      if (detected) parts.push("detected");
      if (num) parts.push(`${num} ${(o[num] as number).toPrecision(3)}`);
      if (typeof o.step === "number") parts.push(`from step ${o.step}`);
      text = parts.length ? parts.join(", ") : "see details (hover)";
    } else text = String(value);
    out.push({ name, text, detail: JSON.stringify(value) });
  }
  return out;
}
