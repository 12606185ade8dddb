// A small residual network's sites, as the server describes them: a stem, two stages of two
// blocks (each block a branch site and its output), and a head.
import type { Site } from "../src/lib/types";

export function resnetSites(): Site[] {
  const sites: Site[] = [];
  const add = (name: string, segment: string[], channels: number, kind = "conv") =>
    sites.push({ name, segment, channels, kind, shape: [channels, 8, 8], index: sites.length });
  add("stem.relu", ["stem"], 8);
  for (const stage of ["layer1", "layer2"]) {
    for (const block of ["0", "1"]) {
      const b = `${stage}.${block}`;
      add(`${b}.relu1`, [stage, b], 16);
      add(`${b}.bn2`, [stage, b], 16, "branch");
    }
  }
  add("fc1", ["head"], 32, "linear");
  return sites;
}

/** Two boxes overlap when their interiors share a point. */
export function overlap(
  a: { x: number; y: number; w: number; h: number },
  b: { x: number; y: number; w: number; h: number },
): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

export function inside(p: { x: number; y: number }, r: { x: number; y: number; w: number; h: number }): boolean {
  return p.x >= r.x && p.x <= r.x + r.w && p.y >= r.y && p.y <= r.y + r.h;
}
