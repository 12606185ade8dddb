// Drawing the server's quantised arrays onto small canvases: images (grey or RGB), activation
// maps in a colour map with alpha, and the set images cache. Shared by the images and neuron views.
import * as d3 from "d3";
import * as api from "../lib/api";
import { bytes, value } from "../lib/bytes";
import type { ByteArray, ImageSet } from "../lib/types";

// --- image sets never change: one request per id for the whole session ---
const imageSets = new Map<number, Promise<ImageSet>>();

export function imageSet(id: number): Promise<ImageSet> {
  let p = imageSets.get(id);
  if (!p) {
    p = api.imageSet(id);
    p.catch(() => imageSets.delete(id)); // let a later view retry after a failure
    imageSets.set(id, p);
  }
  return p;
}

// --- decoding, once per array ---
const decoded = new WeakMap<ByteArray, Uint8Array>();

export function decode(array: ByteArray): Uint8Array {
  let d = decoded.get(array);
  if (!d) {
    d = bytes(array);
    decoded.set(array, d);
  }
  return d;
}

/** Bytes as display pixels: an array of pixels in 0..1 is mapped back to 0..255 exactly;
 *  anything else (normalised inputs) is shown stretched over its own [min, max]. */
function pixelBytes(array: ByteArray): Uint8Array {
  const data = decode(array);
  if (array.min < 0 || array.max > 1 || (array.min === 0 && array.max === 1)) return data;
  const lut = new Uint8Array(256);
  for (let b = 0; b < 256; b++) lut[b] = Math.round(Math.min(1, Math.max(0, value(array, b))) * 255);
  return data.map((b) => lut[b]);
}
const pixelCache = new WeakMap<ByteArray, Uint8Array>();
function pixels(array: ByteArray): Uint8Array {
  let p = pixelCache.get(array);
  if (!p) {
    p = pixelBytes(array);
    pixelCache.set(array, p);
  }
  return p;
}

/** Shape of one item of an array with a leading item axis: [n, c, h, w] or [n, h, w]. */
export function itemShape(array: ByteArray): { n: number; c: number; h: number; w: number } {
  const s = array.shape;
  if (s.length === 4) return { n: s[0], c: s[1], h: s[2], w: s[3] };
  if (s.length === 3) return { n: s[0], c: 1, h: s[1], w: s[2] };
  if (s.length === 2) return { n: 1, c: 1, h: s[0], w: s[1] };
  return { n: s[0] ?? 0, c: 1, h: 1, w: 1 };
}

function offscreen(w: number, h: number, image: ImageData): HTMLCanvasElement {
  const c = document.createElement("canvas");
  c.width = w;
  c.height = h;
  c.getContext("2d")!.putImageData(image, 0, 0);
  return c;
}

const imageCanvases = new WeakMap<ByteArray, Map<number, HTMLCanvasElement>>();

/** Item `index` of an image array ([n, c, h, w] or, with index 0, [c, h, w]) at its own size. */
export function imageLayer(array: ByteArray, index: number, single = false): HTMLCanvasElement {
  let byIndex = imageCanvases.get(array);
  if (!byIndex) imageCanvases.set(array, (byIndex = new Map()));
  let c = byIndex.get(index);
  if (c) return c;
  const s = array.shape;
  const [ch, h, w] = single ? (s.length === 3 ? s : [1, s[0], s[1]]) : [itemShape(array).c, itemShape(array).h, itemShape(array).w];
  const data = pixels(array);
  const plane = h * w;
  const offset = index * ch * plane;
  const image = new ImageData(w, h);
  for (let p = 0; p < plane; p++) {
    const r = data[offset + p];
    image.data[4 * p] = r;
    image.data[4 * p + 1] = ch >= 3 ? data[offset + plane + p] : r;
    image.data[4 * p + 2] = ch >= 3 ? data[offset + 2 * plane + p] : r;
    image.data[4 * p + 3] = 255;
  }
  c = offscreen(w, h, image);
  byIndex.set(index, c);
  return c;
}

// --- activation colour scale ---

/** One colour scale shared by several maps: real values in [lo, hi]. A signed scale (some values
 *  below zero) is symmetric around zero: warm for positive, cyan for negative, zero transparent. */
export interface HeatScale {
  lo: number;
  hi: number;
  signed: boolean;
}

const RAMP = d3.interpolateInferno;
const NEGATIVE: [number, number, number] = [0, 220, 235];

function ramp(t: number): [number, number, number] {
  const c = d3.rgb(RAMP(t));
  return [c.r, c.g, c.b];
}
const clip = (t: number): number => Math.min(1, Math.max(0, t));

/** Colour and opacity (0..1) of real value `v` in `scale`. */
export function heatColor(v: number, scale: HeatScale): [number, number, number, number] {
  if (scale.signed) {
    const s = Math.max(-1, Math.min(1, v / scale.hi));
    if (s < 0) return [...NEGATIVE, 0.85 * -s];
    return [...ramp(0.55 + 0.45 * s), 0.85 * s];
  }
  const t = clip((v - scale.lo) / (scale.hi - scale.lo));
  return [...ramp(0.08 + 0.92 * t), 0.1 + 0.8 * t];
}

export function heatScale(maps: ByteArray[]): HeatScale {
  const lo = Math.min(...maps.map((m) => m.min));
  const hi = Math.max(...maps.map((m) => m.max));
  if (lo < 0 && hi > 0) {
    const m = Math.max(-lo, hi);
    return { lo: -m, hi: m, signed: true };
  }
  return { lo, hi: hi > lo ? hi : lo + 1, signed: false };
}

/** The overlay of map `index` (of an [n, h, w] array) in `scale`, at the map's own size. */
export function heatLayer(map: ByteArray, index: number, scale: HeatScale): HTMLCanvasElement {
  const { h, w } = itemShape(map);
  const data = decode(map);
  const lut = new Uint8ClampedArray(256 * 4);
  for (let b = 0; b < 256; b++) {
    const [r, g, bl, a] = heatColor(value(map, b), scale);
    lut.set([r, g, bl, Math.round(255 * a)], 4 * b);
  }
  const image = new ImageData(w, h);
  const offset = index * h * w;
  for (let p = 0; p < h * w; p++) image.data.set(lut.subarray(4 * data[offset + p], 4 * data[offset + p] + 4), 4 * p);
  return offscreen(w, h, image);
}

/** Mean real value of map `index`. */
export function mapMean(map: ByteArray, index: number): number {
  const { h, w } = itemShape(map);
  const data = decode(map);
  let sum = 0;
  for (let p = index * h * w; p < (index + 1) * h * w; p++) sum += data[p];
  return value(map, sum / (h * w));
}

/** Paint layers onto `canvas` (size in CSS pixels), each scaled to fill it. */
export function paint(
  canvas: HTMLCanvasElement,
  size: number,
  layers: { source: HTMLCanvasElement; smooth: boolean; alpha?: number }[],
  background = "#eee",
): void {
  const dpr = Math.max(1, Math.round(window.devicePixelRatio || 1));
  canvas.width = size * dpr;
  canvas.height = size * dpr;
  canvas.style.width = `${size}px`;
  canvas.style.height = `${size}px`;
  const ctx = canvas.getContext("2d")!;
  ctx.fillStyle = background;
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  for (const { source, smooth, alpha } of layers) {
    ctx.globalAlpha = alpha ?? 1;
    ctx.imageSmoothingEnabled = smooth;
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(source, 0, 0, canvas.width, canvas.height);
  }
  ctx.globalAlpha = 1;
}

export const fmt = (v: number | null | undefined, digits = 3): string =>
  v === null || v === undefined || !Number.isFinite(v) ? "–" : Number(v.toPrecision(digits)).toString();
export const pct = (v: number | null | undefined, digits = 1): string =>
  v === null || v === undefined || !Number.isFinite(v) ? "–" : `${(100 * v).toFixed(digits)}%`;

/** The cell size (px) for `n` items in a wrapping grid `width` wide: the fewest rows in which a
 *  cell (plus `extra` px of border and gap) is at least `min`, and at most `max`. */
export function cellSize(width: number, n: number, min: number, max: number, extra: number): number {
  for (let rows = 1; rows <= Math.max(1, n); rows++) {
    const size = Math.floor(width / Math.ceil(n / rows)) - extra;
    if (size >= min) return Math.min(max, size);
  }
  return min;
}
