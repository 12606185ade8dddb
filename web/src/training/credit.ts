// Credit-assignment flow into one neuron: a column per site (the chosen neuron's site at right,
// earlier sites to the left by how many hops they are from it), nodes ordered by |credit|,
// links as curves whose width is |weight|. No DOM.
import type { CreditGraph } from "../lib/types";

export interface CreditNode {
  site: string;
  neuron: number;
  credit: number;
  column: number; // 0 = leftmost
  x: number; // left of the node box
  y: number; // top
  w: number;
  h: number;
  target: boolean;
}

export interface CreditLink {
  from: CreditNode;
  to: CreditNode;
  weight: number;
  width: number;
  d: string;
}

export interface CreditColumn {
  site: string;
  x: number; // centre of its nodes
  shown: number;
  hidden: number; // nodes left out for room
}

export interface CreditLayout {
  nodes: CreditNode[];
  links: CreditLink[];
  columns: CreditColumn[];
  hiddenLinks: number;
  maxCredit: number;
  maxWeight: number;
}

export interface CreditOptions {
  width: number;
  height: number;
  top: number; // room for column titles
  bottom: number; // room for a footnote
  marginLeft: number;
  marginRight: number;
  rowMin: number; // least height per node row
  maxLinkWidth: number;
}

const key = (site: string, neuron: number) => `${site}\u0000${neuron}`;

/** Hops from each site to the target site along the graph's edges (site level); sites the
 *  edges do not connect are placed by forward order (`order`). */
export function siteDistances(graph: CreditGraph, target: string, order: readonly string[]): Map<string, number> {
  const sites = new Set(graph.nodes.map((n) => n.site));
  sites.add(target);
  const succ = new Map<string, Set<string>>();
  for (const e of graph.edges) {
    if (e.from[0] === e.to[0]) continue;
    if (!succ.has(e.from[0])) succ.set(e.from[0], new Set());
    succ.get(e.from[0])!.add(e.to[0]);
  }
  const dist = new Map<string, number>([[target, 0]]);
  // longest path to the target; at most |sites| rounds (the graph is a DAG)
  for (let round = 0; round < sites.size; round++) {
    let changed = false;
    for (const [s, ts] of succ) {
      for (const t of ts) {
        const d = dist.get(t);
        if (d === undefined || s === target) continue;
        if ((dist.get(s) ?? -1) < d + 1) {
          dist.set(s, d + 1);
          changed = true;
        }
      }
    }
    if (!changed) break;
  }
  const ti = order.indexOf(target);
  for (const s of sites) {
    if (dist.has(s)) continue;
    const i = order.indexOf(s);
    dist.set(s, ti >= 0 && i >= 0 && i < ti ? ti - i : 1);
  }
  return dist;
}

export function layoutCredit(
  graph: CreditGraph,
  target: { site: string; neuron: number },
  order: readonly string[],
  o: CreditOptions,
): CreditLayout {
  const dist = siteDistances(graph, target.site, order);
  const maxDist = Math.max(0, ...dist.values());
  const columnsN = maxDist + 1;
  const nodeW = 14;
  const span = o.width - o.marginLeft - o.marginRight - nodeW;
  const colX = (d: number) => o.marginLeft + (columnsN === 1 ? span : span * ((maxDist - d) / maxDist));

  // one node per (site, neuron); the target is always there
  const byKey = new Map<string, { site: string; neuron: number; credit: number }>();
  for (const n of graph.nodes) byKey.set(key(n.site, n.neuron), n);
  if (!byKey.has(key(target.site, target.neuron))) byKey.set(key(target.site, target.neuron), { ...target, credit: 0 });

  const perSite = new Map<string, { site: string; neuron: number; credit: number }[]>();
  for (const n of byKey.values()) {
    if (!perSite.has(n.site)) perSite.set(n.site, []);
    perSite.get(n.site)!.push(n);
  }
  const avail = o.height - o.top - o.bottom;
  const maxRows = Math.max(1, Math.floor(avail / o.rowMin));
  const maxCredit = Math.max(1e-12, ...graph.nodes.map((n) => Math.abs(n.credit)));

  const nodes: CreditNode[] = [];
  const columns: CreditColumn[] = [];
  const place = new Map<string, CreditNode>();
  const sites = [...perSite.keys()].sort((a, b) => (dist.get(b) ?? 0) - (dist.get(a) ?? 0) || order.indexOf(a) - order.indexOf(b));
  // sites at the same distance share a column: stack them
  const columnSites = new Map<number, string[]>();
  for (const s of sites) {
    const d = dist.get(s) ?? 0;
    if (!columnSites.has(d)) columnSites.set(d, []);
    columnSites.get(d)!.push(s);
  }
  for (const [d, list] of columnSites) {
    const all = list.flatMap((s) =>
      perSite
        .get(s)!
        .slice()
        .sort((a, b) => {
          const ta = a.site === target.site && a.neuron === target.neuron ? 1 : 0;
          const tb = b.site === target.site && b.neuron === target.neuron ? 1 : 0;
          return tb - ta || Math.abs(b.credit) - Math.abs(a.credit) || a.neuron - b.neuron;
        })
        .map((n) => ({ ...n })),
    );
    const shown = all.slice(0, maxRows);
    const pitch = Math.min(40, avail / Math.max(1, shown.length));
    const h = Math.max(4, Math.min(22, pitch - 4));
    const startY = o.top + (avail - pitch * shown.length) / 2;
    shown.forEach((n, i) => {
      const node: CreditNode = {
        ...n,
        column: maxDist - d,
        x: colX(d),
        y: startY + i * pitch + (pitch - h) / 2,
        w: nodeW,
        h,
        target: n.site === target.site && n.neuron === target.neuron,
      };
      nodes.push(node);
      place.set(key(n.site, n.neuron), node);
    });
    for (const s of list) {
      const total = perSite.get(s)!.length;
      const visible = shown.filter((n) => n.site === s).length;
      columns.push({ site: s, x: colX(d) + nodeW / 2, shown: visible, hidden: total - visible });
    }
  }

  const maxWeight = Math.max(1e-12, ...graph.edges.map((e) => Math.abs(e.weight)));
  const links: CreditLink[] = [];
  let hiddenLinks = 0;
  for (const e of graph.edges) {
    const a = place.get(key(e.from[0], e.from[1]));
    const b = place.get(key(e.to[0], e.to[1]));
    if (!a || !b) {
      hiddenLinks++;
      continue;
    }
    const width = Math.max(0.75, (o.maxLinkWidth * Math.abs(e.weight)) / maxWeight);
    links.push({ from: a, to: b, weight: e.weight, width, d: linkPath(a, b) });
  }
  links.sort((p, q) => p.width - q.width); // the strongest on top
  columns.sort((p, q) => p.x - q.x);
  return { nodes, links, columns, hiddenLinks, maxCredit, maxWeight };
}

export function linkPath(a: CreditNode, b: CreditNode): string {
  const x1 = a.x + a.w;
  const y1 = a.y + a.h / 2;
  const x2 = b.x;
  const y2 = b.y + b.h / 2;
  if (x2 <= x1) {
    // same column (an edge inside a site): a loop to the right
    const bulge = 30;
    return `M${x1},${y1}C${x1 + bulge},${y1} ${x1 + bulge},${y2} ${x1},${y2}`;
  }
  const mx = (x1 + x2) / 2;
  return `M${x1},${y1}C${mx},${y1} ${mx},${y2} ${x2},${y2}`;
}
