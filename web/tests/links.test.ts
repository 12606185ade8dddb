import { describe, expect, it } from "vitest";
import { nextColumn, type Anchor } from "../src/layer/links";

// three source channels stacked top to bottom at x = 0
const anchors = new Map<number, Anchor>([
  [1, { x: 0, y: 0, size: 10 }],
  [2, { x: 0, y: 100, size: 10 }],
  [3, { x: 0, y: 200, size: 10 }],
]);
const next = {
  kept: [40, 41, 42, 43],
  links: [
    { from: 3, to: 40, weight: 0.9 },
    { from: 1, to: 41, weight: -0.8 },
    { from: 2, to: 42, weight: 0.5 },
    { from: 1, to: 42, weight: 0.01 },
    { from: 7, to: 43, weight: 2.0 }, // from a channel not drawn: ignored
  ],
};

describe("links to the next site", () => {
  const column = nextColumn(next, anchors, { x: 300, top: 0, height: 220, maxLinks: 3 });

  it("keeps the strongest links among drawn sources, at most maxLinks", () => {
    expect(column.totalLinks).toBe(5);
    expect(column.shownLinks).toBe(3);
    expect(column.links.map((l) => l.to).sort()).toEqual([40, 41, 42]);
    expect(column.links.find((l) => l.to === 42)!.from).toBe(2); // 0.5 beats 0.01
  });

  it("orders the next site's channels by where their sources are, so links do not cross", () => {
    const ys = new Map(column.items.map((it) => [it.channel, it.y]));
    expect(ys.get(41)!).toBeLessThan(ys.get(42)!); // fed from channel 1 (top) vs 2 (middle)
    expect(ys.get(42)!).toBeLessThan(ys.get(40)!); // vs 3 (bottom)
    const sorted = [...column.items].sort((a, b) => a.y - b.y);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i].y).toBeGreaterThanOrEqual(sorted[i - 1].y + sorted[i - 1].size);
    expect(column.items.find((it) => it.channel === 43)!.linked).toBe(false);
  });

  it("draws a link thicker the stronger it is, and strong links last (on top)", () => {
    const width = new Map(column.links.map((l) => [l.to, l.width]));
    expect(width.get(40)!).toBeGreaterThan(width.get(41)!);
    expect(width.get(41)!).toBeGreaterThan(width.get(42)!);
    expect(column.links.map((l) => l.width)).toEqual([...column.links.map((l) => l.width)].sort((a, b) => a - b));
    expect(column.maxWeight).toBeCloseTo(0.9, 9);
  });
});
