// Layout of a mechanism: the segment DAG left to right (columns from ../network), each site a
// vertical stack of cluster mosaics (one tile per channel, packed in a grid), and bundled edges
// between clusters of sites that the transitive reduction connects. No DOM.
import type { Mechanism, MechanismBundle, MechanismSite } from "../lib/types";
import { expandedToLevel, relativeName } from "../network/hierarchy";
import { FRAME_HEADER, LABEL_H, fitLabel, type FrameBox } from "../network/layout";
import { computeNetwork, prepare } from "../network/model";

export const STRIP_W = 11; // the cluster-id strip left of each mosaic
export const CLUSTER_GAP = 3;
const MAX_TILE = 22;
const MIN_TILE = 3;

export interface ClusterBox {
  site: string;
  cluster: number; // cluster id (index into site.clusters)
  x: number; // left of the id strip
  y: number;
  w: number; // strip + mosaic
  h: number;
  cols: number;
  tile: number;
  channels: number[];
}

export interface SiteBox {
  name: string;
  label: string;
  x: number;
  w: number;
  top: number;
  tile: number;
  site: MechanismSite | null; // null: a site of the network without a clustering
  clusters: ClusterBox[];
}

export interface BundlePath {
  key: string;
  source: string;
  target: string;
  bundle: MechanismBundle;
  d: string;
  width: number;
}

export interface MechLayout {
  sites: SiteBox[];
  frames: FrameBox[];
  bundles: BundlePath[];
  width: number;
  height: number;
}

/** The largest tile size (px) whose stacked mosaics fit `height`; columns fill `width`. */
export function fitTile(sizes: number[], width: number, height: number): { tile: number; cols: number } {
  const gaps = CLUSTER_GAP * Math.max(0, sizes.length - 1);
  for (let t = MAX_TILE; t > MIN_TILE; t--) {
    const cols = Math.max(1, Math.floor(width / t));
    const h = sizes.reduce((s, n) => s + Math.ceil(n / cols) * t, 0) + gaps;
    if (h <= height) return { tile: t, cols };
  }
  return { tile: MIN_TILE, cols: Math.max(1, Math.floor(width / MIN_TILE)) };
}

/** Stroke width of a bundle from its share of the edge's strength. */
export function bundleWidth(share: number): number {
  return 1 + 11 * Math.max(0, Math.min(1, share));
}

export function layoutMechanism(mech: Mechanism, width: number, height: number): MechLayout {
  const net = prepare(mech.network);
  const expanded = new Set(expandedToLevel(net.hierarchy, net.hierarchy.maxDepth));
  const model = computeNetwork(net, expanded, { width, height, marginLeft: 8, marginRight: 8, charWidth: 6.3 });
  const L = model.layout;
  const byName = new Map(mech.sites.map((s) => [s.name, s]));
  const frameDepth = Math.max(0, ...model.units.map((u) => u.parents.length));
  const top = frameDepth * FRAME_HEADER + 4 + LABEL_H;
  const bottom = 6;
  const avail = Math.max(40, height - top - bottom);

  const siteBoxes: SiteBox[] = L.nodes.map((node) => {
    const name = node.unit.name;
    const site = byName.get(name) ?? null;
    const inset = Math.min(3 + 5 * node.unit.parents.length, L.colW * 0.2);
    const x = 8 + node.layer * L.colW + inset;
    const w = Math.max(STRIP_W + 6, L.colW - 2 * inset);
    const parent = node.unit.parents[node.unit.parents.length - 1];
    const short = relativeName(name, parent);
    const label = fitLabel(/^\d+$/.test(short) ? [name] : [short, name], w + 2 * inset - 2, 6.3);
    const box: SiteBox = { name, label, x, w, top, tile: 0, site, clusters: [] };
    if (!site) return box;
    const sizes = site.clusters.map((c) => c.channels.length);
    const { tile, cols } = fitTile(sizes, w - STRIP_W, avail);
    box.tile = tile;
    const mosaicW = cols * tile;
    const total = sizes.reduce((s, n) => s + Math.ceil(n / cols) * tile, 0) + CLUSTER_GAP * Math.max(0, sizes.length - 1);
    let y = top + Math.max(0, (avail - total) / 2);
    const left = x + (w - STRIP_W - mosaicW) / 2;
    for (const c of site.clusters) {
      const h = Math.ceil(c.channels.length / cols) * tile;
      box.clusters.push({ site: name, cluster: c.id, x: left, y, w: STRIP_W + mosaicW, h, cols, tile, channels: c.channels });
      y += h + CLUSTER_GAP;
    }
    return box;
  });

  // Bundles along the reduced edges (consecutive sites), one path per bundle: every source
  // cluster curves into a hub between the columns, and the hub curves out to every target.
  const siteByName = new Map(siteBoxes.map((s) => [s.name, s]));
  const edgeByPair = new Map(mech.edges.map((e) => [`${e.source}\u0000${e.target}`, e]));
  const bundles: BundlePath[] = [];
  for (const [u, v] of L.kept) {
    const a = siteByName.get(model.units[u].name);
    const b = siteByName.get(model.units[v].name);
    if (!a || !b) continue;
    const edge = edgeByPair.get(`${a.name}\u0000${b.name}`);
    if (!edge) continue;
    edge.bundles.forEach((bundle, i) => {
      const srcs = bundle.sources.map((id) => a.clusters.find((c) => c.cluster === id)).filter((c): c is ClusterBox => !!c);
      const tgts = bundle.targets.map((id) => b.clusters.find((c) => c.cluster === id)).filter((c): c is ClusterBox => !!c);
      if (!srcs.length || !tgts.length) return;
      const ends = [...srcs, ...tgts].map((c) => c.y + c.h / 2);
      const hy = ends.reduce((s, y) => s + y, 0) / ends.length;
      const x1 = Math.max(...srcs.map((c) => c.x + c.w));
      const x2 = Math.min(...tgts.map((c) => c.x));
      const hx = (x1 + x2) / 2;
      const parts: string[] = [];
      for (const c of srcs) {
        const sx = c.x + c.w;
        const sy = c.y + c.h / 2;
        const m = (sx + hx) / 2;
        parts.push(`M${sx.toFixed(1)},${sy.toFixed(1)}C${m.toFixed(1)},${sy.toFixed(1)} ${m.toFixed(1)},${hy.toFixed(1)} ${hx.toFixed(1)},${hy.toFixed(1)}`);
      }
      for (const c of tgts) {
        const tx = c.x;
        const ty = c.y + c.h / 2;
        const m = (hx + tx) / 2;
        parts.push(`M${hx.toFixed(1)},${hy.toFixed(1)}C${m.toFixed(1)},${hy.toFixed(1)} ${m.toFixed(1)},${ty.toFixed(1)} ${tx.toFixed(1)},${ty.toFixed(1)}`);
      }
      bundles.push({ key: `${edge.index}:${i}`, source: a.name, target: b.name, bundle, d: parts.join(""), width: bundleWidth(bundle.share) });
    });
  }
  // the thick ones first, so thin ones stay visible on top
  bundles.sort((p, q) => q.width - p.width);
  return { sites: siteBoxes, frames: L.frames, bundles, width: L.width, height };
}

/** The channel under a point of a cluster mosaic (x, y relative to the mosaic), or null. */
export function channelAt(box: ClusterBox, x: number, y: number): number | null {
  const col = Math.floor(x / box.tile);
  const row = Math.floor(y / box.tile);
  if (col < 0 || col >= box.cols || row < 0) return null;
  return box.channels[row * box.cols + col] ?? null;
}
