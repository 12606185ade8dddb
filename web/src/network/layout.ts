// Left-to-right layered layout of the collapsed site graph: longest-path layering (with a
// barrier at every frame boundary so an expanded segment owns a contiguous run of columns),
// barycenter ordering within a layer, then boxes for nodes and for expanded segments ("frames").
// Linear in the size of the graph; no DOM (text widths are estimated).
import type { Edge } from "./graph";
import { relativeName, type Unit } from "./hierarchy";

export interface NodeBox {
  unit: Unit;
  layer: number;
  row: number;
  x: number;
  y: number; // top of the box
  w: number;
  h: number;
  cx: number;
  cy: number;
  label: string; // what fits above the box
}

export interface FrameBox {
  name: string;
  depth: number;
  x: number;
  y: number;
  w: number;
  h: number;
  label: string;
}

export interface Layout {
  nodes: NodeBox[]; // indexed by unit id
  frames: FrameBox[];
  kept: Edge[];
  skips: Edge[];
  layers: number;
  colW: number;
  width: number;
  height: number;
  boxH: number;
}

export interface LayoutOptions {
  width: number; // available width
  height: number; // height of the graph area
  marginLeft: number;
  marginRight: number;
  charWidth: number; // average width of a label character in px
}

export const FRAME_HEADER = 16;

/** Narrowest column for a nesting depth of frames (0: all collapsed); nodes inside nested
 *  frames need room for the frames' borders and a readable label. */
export function minColumnFor(frameDepth: number): number {
  return frameDepth >= 2 ? 46 : 26;
}
export const LABEL_H = 14;
const MAX_BOX_W = 150;

/** Longest-path layers; a unit whose expanded parents differ from the previous unit's starts
 *  after every earlier layer, so frames never share a column with their neighbours. */
export function assignLayers(units: Unit[], edges: Edge[]): Int32Array {
  const n = units.length;
  const layer = new Int32Array(n);
  const preds: number[][] = Array.from({ length: n }, () => []);
  for (const [u, v] of edges) preds[v].push(u);
  let maxSoFar = -1;
  for (let v = 0; v < n; v++) {
    let l = -1;
    for (const u of preds[v]) l = Math.max(l, layer[u]);
    l = preds[v].length ? l + 1 : v === 0 ? 0 : layer[v - 1] + 1;
    if (v > 0 && !sameList(units[v].parents, units[v - 1].parents)) l = Math.max(l, maxSoFar + 1);
    layer[v] = l;
    maxSoFar = Math.max(maxSoFar, l);
  }
  return layer;
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Rows within each layer: barycenter of the neighbours' rows, a downward then upward sweep. */
export function orderLayers(n: number, layer: Int32Array, edges: Edge[]): { row: Int32Array; layers: number[][] } {
  const count = n ? Math.max(...layer) + 1 : 0;
  const layers: number[][] = Array.from({ length: count }, () => []);
  for (let v = 0; v < n; v++) layers[layer[v]].push(v);
  const row = new Int32Array(n);
  const place = () => layers.forEach((list) => list.forEach((v, i) => (row[v] = i)));
  place();
  const preds: number[][] = Array.from({ length: n }, () => []);
  const succs: number[][] = Array.from({ length: n }, () => []);
  for (const [u, v] of edges) {
    preds[v].push(u);
    succs[u].push(v);
  }
  const sweep = (list: number[], nbrs: number[][]) => {
    if (list.length < 2) return;
    const bary = new Map<number, number>();
    for (const v of list) {
      const ns = nbrs[v];
      bary.set(v, ns.length ? ns.reduce((s, u) => s + row[u], 0) / ns.length : row[v]);
    }
    list.sort((a, b) => bary.get(a)! - bary.get(b)! || a - b);
    list.forEach((v, i) => (row[v] = i));
  };
  for (let l = 1; l < count; l++) sweep(layers[l], preds);
  for (let l = count - 2; l >= 0; l--) sweep(layers[l], succs);
  return { row, layers };
}

/** The first candidate that fits `width`, else the last one cut with an ellipsis. */
export function fitLabel(candidates: string[], width: number, charWidth: number): string {
  const max = Math.floor(width / charWidth);
  for (const c of candidates) if (c.length <= max) return c;
  const last = candidates[candidates.length - 1];
  return max <= 1 ? "" : last.slice(0, max - 1) + "…";
}

export function layoutGraph(units: Unit[], kept: Edge[], skips: Edge[], o: LayoutOptions): Layout {
  const n = units.length;
  const layer = assignLayers(units, kept);
  const { row, layers } = orderLayers(n, layer, kept);
  const L = layers.length;
  const R = Math.max(1, ...layers.map((l) => l.length));
  const frameDepth = Math.max(0, ...units.map((u) => u.parents.length));
  const colW = Math.max(minColumnFor(frameDepth), (o.width - o.marginLeft - o.marginRight) / Math.max(1, L));
  const width = o.marginLeft + L * colW + o.marginRight;

  const top = frameDepth * FRAME_HEADER + 2;
  const bottom = skips.length ? 28 : 8;
  const avail = o.height - top - bottom;
  const boxH = Math.max(16, Math.min(64, avail / R - LABEL_H - 4));
  const pitch = LABEL_H + boxH + 4;
  const startY = top + (avail - R * pitch) / 2;

  const nodes: NodeBox[] = units.map((unit, v) => {
    const k = layers[layer[v]].length;
    const slot = row[v] + (R - k) / 2;
    const inset = Math.min(4 + 5 * unit.parents.length, colW * 0.22);
    const left = o.marginLeft + layer[v] * colW;
    const w = Math.min(MAX_BOX_W, colW - 2 * inset);
    const x = left + (colW - w) / 2;
    const y = startY + slot * pitch + LABEL_H;
    const parent = unit.parents[unit.parents.length - 1];
    const short = relativeName(unit.name, parent);
    const mark = unit.kind === "segment" ? "▸ " : "";
    // inside a frame the frame names the context, so the short name is enough (unless it is
    // only a number, like "stem.2" -> "2")
    const candidates = parent && !/^\d+$/.test(short) ? [mark + short, short] : [mark + unit.name, mark + short, short];
    return {
      unit,
      layer: layer[v],
      row: row[v],
      x,
      y,
      w,
      h: boxH,
      cx: x + w / 2,
      cy: y + boxH / 2,
      label: fitLabel(candidates, colW - 4, o.charWidth),
    };
  });

  // Frames: every expanded segment enclosing a visible unit.
  const spans = new Map<string, { depth: number; lo: number; hi: number; parent?: string }>();
  for (const node of nodes) {
    node.unit.parents.forEach((name, depth) => {
      const s = spans.get(name);
      if (s) {
        s.lo = Math.min(s.lo, node.layer);
        s.hi = Math.max(s.hi, node.layer);
      } else spans.set(name, { depth, lo: node.layer, hi: node.layer, parent: node.unit.parents[depth - 1] });
    });
  }
  const frames: FrameBox[] = [];
  for (const [name, s] of spans) {
    const inset = 2 + 5 * s.depth;
    const x = o.marginLeft + s.lo * colW + inset;
    const w = (s.hi - s.lo + 1) * colW - 2 * inset;
    const y = s.depth * FRAME_HEADER;
    const short = relativeName(name, s.parent);
    frames.push({
      name,
      depth: s.depth,
      x,
      y,
      w,
      h: o.height - y - 2 - 3 * s.depth,
      label: fitLabel(["▾ " + name, "▾ " + short], w - 6, o.charWidth),
    });
  }
  frames.sort((a, b) => a.depth - b.depth || a.x - b.x);
  return { nodes, frames, kept, skips, layers: L, colW, width, height: o.height, boxH };
}

/** An SVG path from the right side of a to the left side of b. */
export function edgePath(a: NodeBox, b: NodeBox): string {
  const x1 = a.x + a.w;
  const x2 = b.x;
  const mx = (x1 + x2) / 2;
  return `M${x1},${a.cy}C${mx},${a.cy} ${mx},${b.cy} ${x2},${b.cy}`;
}

/** A faint arc under the boxes from a to b (a skipped-over residual connection). */
export function skipPath(a: NodeBox, b: NodeBox, maxDrop: number): string {
  const y1 = a.y + a.h;
  const y2 = b.y + b.h;
  const drop = Math.min(maxDrop, 8 + (b.cx - a.cx) / 12);
  const mx = (a.cx + b.cx) / 2;
  return `M${a.cx},${y1}Q${mx},${Math.max(y1, y2) + 2 * drop} ${b.cx},${y2}`;
}
