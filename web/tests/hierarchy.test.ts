import { describe, expect, it } from "vitest";
import { buildHierarchy, expandedToLevel, relativeName, visibleUnits } from "../src/network/hierarchy";
import { resnetSites } from "./fixtures";

describe("segment hierarchy", () => {
  const sites = resnetSites();
  const h = buildHierarchy(sites);

  it("nests blocks in stages in forward order", () => {
    expect(h.top).toEqual(["stem", "layer1", "layer2", "head"]);
    expect(h.segments.get("layer1")!.children).toEqual(["layer1.0", "layer1.1"]);
    expect(h.segments.get("layer2.1")!.parent).toBe("layer2");
    expect(h.segments.get("layer2")!.sites).toEqual([5, 6, 7, 8]);
    expect(h.maxDepth).toBe(2);
  });

  it("collapsed, every site belongs to exactly one unit, in forward order", () => {
    const { units, unitOf } = visibleUnits(sites, new Set());
    expect(units.map((u) => u.name)).toEqual(["stem", "layer1", "layer2", "head"]);
    expect(units.every((u) => u.kind === "segment")).toBe(true);
    const covered = units.flatMap((u) => u.sites).sort((a, b) => a - b);
    expect(covered).toEqual(sites.map((_, i) => i));
    sites.forEach((_, i) => expect(units[unitOf[i]].sites).toContain(i));
  });

  it("expanding a stage shows its blocks; expanding everything shows the sites", () => {
    const stage = visibleUnits(sites, new Set(["layer1"]));
    expect(stage.units.map((u) => u.name)).toEqual(["stem", "layer1.0", "layer1.1", "layer2", "head"]);
    expect(stage.units[1].parents).toEqual(["layer1"]);
    const all = visibleUnits(sites, new Set(expandedToLevel(h, h.maxDepth)));
    expect(all.units.map((u) => u.name)).toEqual(sites.map((s) => s.name));
    expect(all.units.every((u) => u.kind === "site" && u.sites.length === 1)).toBe(true);
  });

  it("names a site relative to its parent segment", () => {
    expect(relativeName("layer1.0.relu1", "layer1.0")).toBe("relu1");
    expect(relativeName("fc1", undefined)).toBe("fc1");
  });
});
