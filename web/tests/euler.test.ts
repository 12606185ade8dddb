import { describe, expect, it } from "vitest";
import { ZONES, layoutEuler, zones } from "../src/layer/euler";
import { inside, overlap } from "./fixtures";

const kept = { A: [1, 2, 3, 4, 10, 11], B: [3, 4, 5, 6, 11], C: [4, 7, 8, 9, 10, 11, 12] };
const order = [12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1];

describe("Euler diagram of three datapaths", () => {
  const byZone = zones(kept, order);

  it("puts each channel in the zone of exactly the sets that keep it, in the given order", () => {
    expect(byZone).toEqual({ A: [2, 1], AB: [3], B: [6, 5], AC: [10], ABC: [11, 4], BC: [], C: [12, 9, 8, 7] });
  });

  for (const [width, height] of [
    [600, 400],
    [320, 260],
  ]) {
    it(`places cells without overlap and each set's rectangle around exactly its channels (${width}×${height})`, () => {
      const L = layoutEuler(zones(kept, order), { width, height });
      expect(L.cells.map((c) => c.zone)).toEqual(ZONES);
      for (let i = 0; i < L.cells.length; i++) {
        for (let j = i + 1; j < L.cells.length; j++) expect(overlap(L.cells[i], L.cells[j])).toBe(false);
      }
      expect(L.width).toBeLessThanOrEqual(width);
      expect(L.glyphs.length).toBe(new Set([...kept.A, ...kept.B, ...kept.C]).size);
      for (const g of L.glyphs) {
        const centre = { x: g.x + g.size / 2, y: g.y + g.size / 2 };
        const cell = L.cells.find((c) => c.zone === g.zone)!;
        expect(inside({ x: g.x, y: g.y }, cell) && inside({ x: g.x + g.size, y: g.y + g.size }, cell)).toBe(true);
        for (const set of ["A", "B", "C"] as const) {
          expect(inside(centre, L.sets[set])).toBe(kept[set].includes(g.channel));
        }
      }
      for (let i = 0; i < L.glyphs.length; i++) {
        for (let j = i + 1; j < L.glyphs.length; j++) {
          const [a, b] = [L.glyphs[i], L.glyphs[j]];
          expect(overlap({ ...a, w: a.size, h: a.size }, { ...b, w: b.size, h: b.size })).toBe(false);
        }
      }
    });
  }
});
