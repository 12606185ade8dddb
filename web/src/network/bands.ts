// The three datapath bands: how many critical channels each set keeps at each node, from the
// stored datapaths, from a subset datapath, or from the gates of a job still optimising. No DOM.
import { SETS } from "../lib/config";
import type { Analysis, AnalysisDatapath, Datapath, SetKey, Site } from "../lib/types";
import type { Layout } from "./layout";
import type { Unit } from "./hierarchy";

export type BandMode = "final" | "live" | "subset";

export interface SetCounts {
  set: SetKey;
  mode: BandMode;
  perSite: (number | null)[]; // kept channels per site (null: not known yet)
  datapath: AnalysisDatapath | null; // where the numbers come from, when stored
}

export const LIVE_THRESHOLD = 0.5;

export function countOpen(gates: number[]): number {
  let k = 0;
  for (const g of gates) if (g > LIVE_THRESHOLD) k++;
  return k;
}

/** Per set, where its band comes from and its count at every site. Sets with nothing to show
 *  are left out. */
export function setCounts(
  sites: Site[],
  analysis: Analysis | null,
  liveGates: Partial<Record<SetKey, Record<string, number[]>>>,
  subset: { set: SetKey; datapath: Datapath } | null,
): SetCounts[] {
  const out: SetCounts[] = [];
  for (const set of SETS) {
    const live = liveGates[set];
    if (live) {
      out.push({ set, mode: "live", datapath: null, perSite: sites.map((s) => (live[s.name] ? countOpen(live[s.name]) : null)) });
      continue;
    }
    const dp = subset?.set === set ? subset.datapath : analysis?.datapaths?.[set];
    if (!dp) continue;
    out.push({
      set,
      mode: subset?.set === set ? "subset" : "final",
      datapath: dp,
      perSite: sites.map((s) => dp.channels[s.name]?.length ?? null),
    });
  }
  return out;
}

/** Per unit: the sum over its sites (null when no site of it is known). */
export function unitCounts(units: Unit[], perSite: (number | null)[]): (number | null)[] {
  return units.map((u) => {
    let total: number | null = null;
    for (const i of u.sites) {
      const c = perSite[i];
      if (c !== null && c !== undefined) total = (total ?? 0) + c;
    }
    return total;
  });
}

/** One SVG path per set: a bar through each node and a ribbon along each drawn edge, stacked
 *  A over B over C and centred on the node; width = count × scale, scale fits the widest node. */
export function bandPaths(layout: Layout, counts: { set: SetKey; units: (number | null)[] }[]): { set: SetKey; d: string }[] {
  const n = layout.nodes.length;
  let widest = 0;
  for (let v = 0; v < n; v++) {
    let s = 0;
    for (const c of counts) s += c.units[v] ?? 0;
    widest = Math.max(widest, s);
  }
  if (!widest) return counts.map((c) => ({ set: c.set, d: "" }));
  const scale = (layout.boxH - 6) / widest;
  // top and bottom of each set's stripe at each node
  const top: Float64Array[] = counts.map(() => new Float64Array(n));
  const bot: Float64Array[] = counts.map(() => new Float64Array(n));
  for (let v = 0; v < n; v++) {
    const widths = counts.map((c) => {
      const k = c.units[v] ?? 0;
      return k > 0 ? Math.max(1.5, k * scale) : 0;
    });
    let y = layout.nodes[v].cy - widths.reduce((a, b) => a + b, 0) / 2;
    widths.forEach((w, j) => {
      top[j][v] = y;
      y += w;
      bot[j][v] = y;
    });
  }
  const f = (x: number) => Math.round(x * 10) / 10;
  return counts.map((c, j) => {
    const parts: string[] = [];
    for (let v = 0; v < n; v++) {
      if (!c.units[v]) continue;
      const node = layout.nodes[v];
      parts.push(`M${f(node.x)},${f(top[j][v])}H${f(node.x + node.w)}V${f(bot[j][v])}H${f(node.x)}Z`);
    }
    for (const [u, v] of layout.kept) {
      if (!c.units[u] || !c.units[v]) continue;
      const a = layout.nodes[u];
      const b = layout.nodes[v];
      const x1 = f(a.x + a.w);
      const x2 = f(b.x);
      const mx = f((x1 + x2) / 2);
      const [t1, b1, t2, b2] = [top[j][u], bot[j][u], top[j][v], bot[j][v]].map(f);
      parts.push(`M${x1},${t1}C${mx},${t1} ${mx},${t2} ${x2},${t2}V${b2}C${mx},${b2} ${mx},${b1} ${x1},${b1}Z`);
    }
    return { set: c.set, d: parts.join("") };
  });
}

/** Total channels of a unit. */
export function unitChannels(unit: Unit, sites: Site[]): number {
  return unit.sites.reduce((s, i) => s + sites[i].channels, 0);
}
