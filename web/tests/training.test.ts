import { describe, expect, it } from "vitest";
import { layoutPolylines, yDomain } from "../src/training/polylines";
import { nanRuns } from "../src/training/timeline";
import type { NeuronSeries } from "../src/lib/types";

const series: NeuronSeries = {
  site: "fc1",
  stat: "act_mean",
  steps: [0, 10, 20, 30],
  neurons: 50,
  outliers: 1,
  band: { p05: [0, 0, 0, 0], p25: [1, 1, 1, 1], p50: [2, 2, 2, 2], p75: [3, 3, 3, 3], p95: [4, 4, 4, 4] },
  drawn: [
    { neuron: 7, outlier: true, score: 9, values: [1, 5, 20, null] },
    { neuron: 3, outlier: false, score: 0.1, values: [2, 2, 2, 2] },
    { neuron: 4, outlier: false, score: 0.5, values: [1, 3, 2, 1] },
  ],
};
const options = { width: 400, height: 200, margin: { left: 40, right: 10, top: 10, bottom: 20 } };

describe("neuron polylines", () => {
  it("spans every drawn value in mode 'all', the p05–p95 band only in mode 'band'", () => {
    const [lo, hi] = yDomain(series, "all");
    expect(lo).toBeLessThanOrEqual(0);
    expect(hi).toBeGreaterThanOrEqual(20);
    const [blo, bhi] = yDomain(series, "band");
    expect(blo).toBeLessThanOrEqual(0);
    expect(bhi).toBeGreaterThanOrEqual(4);
    expect(bhi).toBeLessThan(5);
  });

  it("maps steps onto the plot's width and values upwards, and counts clipped lines", () => {
    const L = layoutPolylines(series, options, "band", null);
    expect(L.x(0)).toBe(40);
    expect(L.x(30)).toBe(390);
    expect(L.y(4)).toBeLessThan(L.y(0)); // larger values higher up
    expect(L.clipped).toBe(1); // only neuron 7 leaves the band's range
  });

  it("draws outliers above ordinary lines and the selected line on top", () => {
    const plain = layoutPolylines(series, options, "all", null);
    expect(plain.lines.map((l) => l.neuron)).toEqual([3, 4, 7]);
    const picked = layoutPolylines(series, options, "all", 3);
    expect(picked.lines.at(-1)!.neuron).toBe(3);
    // a NaN value breaks the line: the outlier's path has a single run of three points
    expect(plain.lines.at(-1)!.d.match(/M/g)).toHaveLength(1);
  });
});

describe("scalar timeline", () => {
  it("marks each run of NaN values as one step range", () => {
    expect(nanRuns([0, 1, 2, 3, 4, 5], [1, null, null, 2, null, null])).toEqual([
      [1, 2],
      [4, 5],
    ]);
    expect(nanRuns([0, 1], [1, 2])).toEqual([]);
  });
});
