// Putting the pieces together: network -> visible units -> reduced edges -> layout, and the
// default expansion. No DOM.
import type { NetworkInfo, Site } from "../lib/types";
import { collapseEdges, skipEdges, transitiveReduction, type Edge } from "./graph";
import { buildHierarchy, expandedToLevel, visibleUnits, type Hierarchy, type Unit } from "./hierarchy";
import { assignLayers, layoutGraph, minColumnFor, type Layout, type LayoutOptions } from "./layout";

export interface PreparedNetwork {
  sites: Site[]; // forward order
  edges: Edge[]; // site indices
  hierarchy: Hierarchy;
  index: Map<string, number>;
}

export function prepare(network: NetworkInfo): PreparedNetwork {
  const sites = [...network.sites].sort((a, b) => a.index - b.index);
  const index = new Map(sites.map((s, i) => [s.name, i]));
  const edges: Edge[] = [];
  for (const [a, b] of network.edges) {
    const u = index.get(a);
    const v = index.get(b);
    if (u !== undefined && v !== undefined) edges.push([u, v]);
  }
  return { sites, edges, hierarchy: buildHierarchy(sites), index };
}

export interface NetworkModel {
  units: Unit[];
  unitOf: Int32Array;
  layout: Layout;
}

export function computeNetwork(net: PreparedNetwork, expanded: ReadonlySet<string>, o: LayoutOptions): NetworkModel {
  const { units, unitOf } = visibleUnits(net.sites, expanded);
  const { kept, removed } = transitiveReduction(units.length, collapseEdges(net.edges, unitOf));
  const layout = layoutGraph(units, kept, skipEdges(removed), o);
  return { units, unitOf, layout };
}

/** Width the columns need when the segments above `level` are expanded. */
export function widthAt(net: PreparedNetwork, level: number): number {
  const { units, unitOf } = visibleUnits(net.sites, new Set(expandedToLevel(net.hierarchy, level)));
  const { kept } = transitiveReduction(units.length, collapseEdges(net.edges, unitOf));
  const layer = assignLayers(units, kept);
  const columns = units.length ? Math.max(...layer) + 1 : 0;
  const depth = Math.max(0, ...units.map((u) => u.parents.length));
  return columns * minColumnFor(depth);
}

/** The deepest level of expansion whose columns fit `width` without scrolling (stages
 *  collapsed if even they do not fit; top-level segments are always drawn). */
export function defaultExpanded(net: PreparedNetwork, width: number): string[] {
  for (let level = net.hierarchy.maxDepth; level > 0; level--) {
    if (widthAt(net, level) <= width) return expandedToLevel(net.hierarchy, level);
  }
  return [];
}
