import { describe, expect, it } from "vitest";
import { CLUSTER_GAP, bundleWidth, fitTile } from "../src/mechanism/layout";

describe("mechanism mosaics", () => {
  it("picks the largest tile whose stacked cluster mosaics fit the height", () => {
    const sizes = [10, 5, 17];
    for (const [width, height] of [
      [60, 200],
      [40, 90],
      [120, 400],
    ]) {
      const { tile, cols } = fitTile(sizes, width, height);
      const used = (t: number, c: number) => sizes.reduce((s, n) => s + Math.ceil(n / c) * t, 0) + CLUSTER_GAP * 2;
      expect(cols).toBe(Math.max(1, Math.floor(width / tile)));
      expect(cols * tile).toBeLessThanOrEqual(width);
      expect(used(tile, cols)).toBeLessThanOrEqual(height);
      if (tile < 22) {
        const bigger = tile + 1;
        expect(used(bigger, Math.max(1, Math.floor(width / bigger)))).toBeGreaterThan(height);
      }
    }
  });

  it("widens a bundle with its share of the edge's strength, within 1..12 px", () => {
    expect(bundleWidth(0)).toBe(1);
    expect(bundleWidth(1)).toBe(12);
    expect(bundleWidth(2)).toBe(12);
    expect(bundleWidth(0.5)).toBeGreaterThan(bundleWidth(0.25));
  });
});
