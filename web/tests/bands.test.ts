import { describe, expect, it } from "vitest";
import { bandPaths, countOpen, setCounts, unitCounts } from "../src/network/bands";
import type { Layout, NodeBox } from "../src/network/layout";
import type { Unit } from "../src/network/hierarchy";

function node(id: number, x: number): NodeBox {
  const unit: Unit = { id, kind: "site", name: `s${id}`, sites: [id], parents: [] };
  return { unit, layer: id, row: 0, x, y: 20, w: 30, h: 66, cx: x + 15, cy: 53, label: unit.name };
}

const layout = { nodes: [node(0, 0), node(1, 100)], frames: [], kept: [[0, 1]], skips: [], layers: 2, colW: 100, width: 200, height: 120, boxH: 66 } as unknown as Layout;

/** [top, bottom] of each bar "M x,top H x2 V bottom H x Z" in a band's path, per node. */
function bars(d: string): [number, number][] {
  return [...d.matchAll(/M([\d.]+),([\d.]+)H[\d.]+V([\d.]+)H[\d.]+Z/g)].map((m) => [Number(m[2]), Number(m[3])]);
}

describe("datapath bands", () => {
  it("gives each set a bar as wide as its count, stacked A over B over C without overlap", () => {
    const counts = [
      { set: "A" as const, units: [12, 6] },
      { set: "B" as const, units: [24, 3] },
      { set: "C" as const, units: [6, 30] },
    ];
    const paths = bandPaths(layout, counts);
    expect(paths.map((p) => p.set)).toEqual(["A", "B", "C"]);
    const perSet = paths.map((p) => bars(p.d));
    const scale = (layout.boxH - 6) / 42; // the widest node holds 6 + 3 + 30 = 39 < 12 + 24 + 6 = 42
    for (let v = 0; v < 2; v++) {
      for (let j = 0; j < 3; j++) {
        const [top, bottom] = perSet[j][v];
        // coordinates are rounded to 0.1 px, so a width is exact to 0.1
        expect(Math.abs(bottom - top - counts[j].units[v] * scale)).toBeLessThanOrEqual(0.11);
        if (j > 0) expect(top).toBeGreaterThanOrEqual(perSet[j - 1][v][1] - 0.05);
      }
      const middle = (perSet[0][v][0] + perSet[2][v][1]) / 2;
      expect(Math.abs(middle - layout.nodes[v].cy)).toBeLessThanOrEqual(0.1);
    }
  });

  it("draws nothing for a set that keeps no channel at a node", () => {
    const [a] = bandPaths(layout, [{ set: "A", units: [0, 5] }]);
    expect(bars(a.d)).toHaveLength(1);
  });

  it("counts open gates, sums sites per unit, and prefers live gates to stored datapaths", () => {
    expect(countOpen([0.9, 0.1, 0.5, 0.51])).toBe(2);
    const units: Unit[] = [
      { id: 0, kind: "segment", name: "g", sites: [0, 1], parents: [] },
      { id: 1, kind: "site", name: "s", sites: [2], parents: [] },
    ];
    expect(unitCounts(units, [3, null, null])).toEqual([3, null]);
    expect(unitCounts(units, [3, 4, 5])).toEqual([7, 5]);
    const sites = [{ name: "a" }, { name: "b" }] as never;
    const analysis = { datapaths: { A: { channels: { a: [1, 2], b: [3] } } } } as never;
    const out = setCounts(sites, analysis, { B: { a: [0.9, 0.8, 0.1] } }, null);
    expect(out.find((c) => c.set === "A")).toMatchObject({ mode: "final", perSite: [2, 1] });
    expect(out.find((c) => c.set === "B")).toMatchObject({ mode: "live", perSite: [2, null] });
  });
});
