import { describe, expect, it } from "vitest";
import { collapseEdges, transitiveReduction } from "../src/network/graph";
import { visibleUnits } from "../src/network/hierarchy";
import { layoutGraph } from "../src/network/layout";
import { overlap, resnetSites } from "./fixtures";

// site edges of the residual network: a chain plus each block's skip connection
function siteEdges(n: number): [number, number][] {
  const edges: [number, number][] = [];
  for (let i = 0; i + 1 < n; i++) edges.push([i, i + 1]);
  edges.push([0, 2], [2, 4], [4, 6], [6, 8]);
  return edges;
}

describe("network layout", () => {
  const sites = resnetSites();
  const options = { width: 900, height: 300, marginLeft: 10, marginRight: 10, charWidth: 6.3 };

  for (const expanded of [[], ["layer1"], ["layer1", "layer1.0", "layer2", "layer2.1"]]) {
    it(`boxes never overlap and edges run left to right (expanded: ${expanded.join(",") || "none"})`, () => {
      const { units, unitOf } = visibleUnits(sites, new Set(expanded));
      const edges = collapseEdges(siteEdges(sites.length), unitOf);
      const { kept, removed } = transitiveReduction(units.length, edges);
      const L = layoutGraph(units, kept, [], options);
      expect(L.nodes.length).toBe(units.length);
      for (let i = 0; i < L.nodes.length; i++) {
        for (let j = i + 1; j < L.nodes.length; j++) expect(overlap(L.nodes[i], L.nodes[j])).toBe(false);
      }
      for (const [u, v] of L.kept) {
        expect(L.nodes[u].layer).toBeLessThan(L.nodes[v].layer);
        expect(L.nodes[u].x + L.nodes[u].w).toBeLessThanOrEqual(L.nodes[v].x);
      }
      for (const node of L.nodes) {
        expect(node.x).toBeGreaterThanOrEqual(0);
        expect(node.x + node.w).toBeLessThanOrEqual(L.width);
        expect(node.cy).toBeCloseTo(node.y + node.h / 2, 6);
      }
      // the reduction only drops edges implied by paths through others
      expect(kept.length + removed.length).toBe(new Set(edges.map((e) => e.join())).size);
    });
  }

  it("an expanded segment's frame encloses exactly its units", () => {
    const { units, unitOf } = visibleUnits(sites, new Set(["layer1"]));
    const { kept } = transitiveReduction(units.length, collapseEdges(siteEdges(sites.length), unitOf));
    const L = layoutGraph(units, kept, [], options);
    const frame = L.frames.find((f) => f.name === "layer1")!;
    expect(frame).toBeDefined();
    for (const node of L.nodes) {
      const within =
        node.x >= frame.x && node.x + node.w <= frame.x + frame.w && node.y >= frame.y && node.y + node.h <= frame.y + frame.h;
      expect(within).toBe(node.unit.parents.includes("layer1"));
    }
  });
});
