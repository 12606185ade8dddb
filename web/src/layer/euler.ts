// An Euler diagram of the critical channels of A, B and C at one site, made of rectangles:
//
//     [ A only ][  A∩B  ][ B only ]      A = the two left columns of the top two rows
//     [  A∩C   ][ A∩B∩C ][  B∩C   ]      B = the two right columns of the top two rows
//     [           C only          ]      C = the bottom two rows, all columns
//
// Every set is one rectangle and every one of the seven zones is one cell, sized to hold its
// channels as a grid of glyphs (largest glyph that fits). Inside a cell channels follow the
// server's similarity `order`, so alike channels sit together. No DOM.
import type { SetKey } from "../lib/types";

export type Zone = "A" | "AB" | "B" | "AC" | "ABC" | "BC" | "C";
export const ZONES: Zone[] = ["A", "AB", "B", "AC", "ABC", "BC", "C"];
// [row, column] of each zone; C spans the three columns of row 2
const GRID: Record<Zone, [number, number]> = { A: [0, 0], AB: [0, 1], B: [0, 2], AC: [1, 0], ABC: [1, 1], BC: [1, 2], C: [2, 0] };

export const ZONE_LABEL: Record<Zone, string> = {
  A: "A only",
  AB: "A∩B",
  B: "B only",
  AC: "A∩C",
  ABC: "A∩B∩C",
  BC: "B∩C",
  C: "C only",
};

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Cell extends Rect {
  zone: Zone;
  columns: number; // glyphs per row
  channels: number[]; // in drawing order
}

export interface Glyph {
  channel: number;
  zone: Zone;
  x: number;
  y: number;
  size: number;
}

export interface EulerLayout {
  glyph: number; // glyph side in px
  cells: Cell[];
  sets: Record<SetKey, Rect>;
  glyphs: Glyph[];
  width: number; // used width
  height: number;
}

/** Zone of a channel from its membership ("" when in no set). */
export function zoneOf(inA: boolean, inB: boolean, inC: boolean): Zone | null {
  const key = (inA ? "A" : "") + (inB ? "B" : "") + (inC ? "C" : "");
  return key ? (key as Zone) : null;
}

/** Channels per zone, each zone in the order of `order` (channels missing from it last). */
export function zones(kept: Record<SetKey, number[]>, order: number[]): Record<Zone, number[]> {
  const a = new Set(kept.A);
  const b = new Set(kept.B);
  const c = new Set(kept.C);
  const rank = new Map(order.map((ch, i) => [ch, i]));
  const all = [...new Set([...kept.A, ...kept.B, ...kept.C])].sort(
    (x, y) => (rank.get(x) ?? 1e9 + x) - (rank.get(y) ?? 1e9 + y),
  );
  const out = Object.fromEntries(ZONES.map((z) => [z, [] as number[]])) as Record<Zone, number[]>;
  for (const ch of all) {
    const z = zoneOf(a.has(ch), b.has(ch), c.has(ch));
    if (z) out[z].push(ch);
  }
  return out;
}

export interface EulerOptions {
  width: number;
  height: number;
  maxGlyph?: number;
  top?: number; // room above for set labels
  bottom?: number; // room below for the C label
}

const PAD = 6; // inside a cell
const LABEL = 13; // a cell's label line
const GUTTER = 18; // between cells: the set borders run here
const SIDE = 10;

/** Place the zones and glyphs in width × height. */
export function layoutEuler(byZone: Record<Zone, number[]>, o: EulerOptions): EulerLayout {
  const top = o.top ?? 20;
  const bottom = o.bottom ?? 18;
  const n = (z: Zone) => byZone[z].length;
  let best: { g: number; gap: number; r: number[]; c: number[]; r2: number; c2: number; score: number } | null = null;
  for (let g = o.maxGlyph ?? 22; g >= 3 && !best; g--) {
    const gap = Math.max(1, Math.round(g * 0.18));
    const step = g + gap;
    const innerW = o.width - 2 * SIDE - 2 * GUTTER - 6 * PAD + 3 * gap;
    const innerH = o.height - top - bottom - 2 * GUTTER - 3 * (LABEL + PAD) + 3 * gap;
    const cmax = Math.floor(innerW / step);
    const rmax = Math.floor(innerH / step);
    if (cmax < 3 || rmax < 3) continue;
    const c2 = Math.floor((o.width - 2 * SIDE - 2 * PAD + gap) / step); // row 2 spans the width
    for (let r0 = 1; r0 <= rmax - 2; r0++) {
      for (let r1 = 1; r1 <= rmax - r0 - 1; r1++) {
        const c = [0, 1, 2].map((j) =>
          Math.max(1, Math.ceil(n((["A", "AB", "B"] as Zone[])[j]) / r0), Math.ceil(n((["AC", "ABC", "BC"] as Zone[])[j]) / r1)),
        );
        if (c[0] + c[1] + c[2] > cmax) continue;
        const r2 = Math.max(1, Math.ceil(n("C") / c2));
        if (r0 + r1 + r2 > rmax) continue;
        // compact and not too elongated
        const score = r0 + r1 + r2 + (c[0] + c[1] + c[2]) * 0.5;
        if (!best || score < best.score) best = { g, gap, r: [r0, r1], c, r2, c2, score };
      }
    }
  }
  if (!best) {
    // far too many channels for the space: tiny glyphs, cells overflow downwards
    const g = 3;
    const c2 = Math.floor((o.width - 2 * SIDE) / 4);
    const third = Math.max(1, Math.floor((c2 - 6) / 3));
    const r0 = Math.max(1, ...(["A", "AB", "B"] as Zone[]).map((z) => Math.ceil(n(z) / third)));
    const r1 = Math.max(1, ...(["AC", "ABC", "BC"] as Zone[]).map((z) => Math.ceil(n(z) / third)));
    best = { g, gap: 1, r: [r0, r1], c: [third, third, third], r2: Math.max(1, Math.ceil(n("C") / c2)), c2, score: 0 };
  }
  const { g, gap, r, c, r2 } = best;
  const step = g + gap;
  const colW = c.map((k) => 2 * PAD + k * step - gap);
  const rowH = [r[0], r[1], r2].map((k) => LABEL + PAD + k * step - gap);
  const usedW = colW[0] + colW[1] + colW[2] + 2 * GUTTER;
  // spread some spare width over the columns (each at most doubles, or reaches 110 px) so cells
  // have room for their labels without the diagram sprawling
  let spare = Math.max(0, o.width - 2 * SIDE - usedW);
  const widths = colW.map((w) => {
    const add = Math.min(spare, Math.max(w, 110 - w, 0));
    spare -= add;
    return w + add;
  });
  const xs = [SIDE, SIDE + widths[0] + GUTTER, SIDE + widths[0] + widths[1] + 2 * GUTTER];
  const ys = [top, top + rowH[0] + GUTTER, top + rowH[0] + rowH[1] + 2 * GUTTER];
  const fullW = widths[0] + widths[1] + widths[2] + 2 * GUTTER;

  const cells: Cell[] = [];
  const glyphs: Glyph[] = [];
  for (const zone of ZONES) {
    const [row, col] = GRID[zone];
    const x = xs[col];
    const w = zone === "C" ? fullW : widths[col];
    const columns = Math.max(1, Math.floor((w - 2 * PAD + gap) / step));
    const cell: Cell = { zone, x, y: ys[row], w, h: rowH[row], columns, channels: byZone[zone] };
    cells.push(cell);
    byZone[zone].forEach((channel, i) => {
      glyphs.push({
        channel,
        zone,
        x: x + PAD + (i % columns) * step,
        y: cell.y + LABEL + PAD + Math.floor(i / columns) * step,
        size: g,
      });
    });
  }
  const right = (col: number) => xs[col] + widths[col];
  const bottomOf = (row: number) => ys[row] + rowH[row];
  const a = 9; // how far a set border sits into the gutter
  const b = 5;
  const sets: Record<SetKey, Rect> = {
    A: { x: xs[0] - a, y: ys[0] - a, w: right(1) - xs[0] + 2 * a, h: bottomOf(1) - ys[0] + 2 * a },
    B: { x: xs[1] - b, y: ys[0] - b, w: right(2) - xs[1] + 2 * b, h: bottomOf(1) - ys[0] + 2 * b },
    C: { x: xs[0] - b + 1, y: ys[1] - b - 2, w: right(2) - xs[0] + 2 * b - 2, h: bottomOf(2) - ys[1] + 2 * b + 2 },
  };
  return { glyph: g, cells, sets, glyphs, width: SIDE * 2 + fullW, height: bottomOf(2) + bottom };
}
