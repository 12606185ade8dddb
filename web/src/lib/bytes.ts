// Decoding the server's quantised arrays (see ByteArray in types.ts) and drawing them.
import type { ByteArray } from "./types";

export function bytes(array: ByteArray): Uint8Array {
  const raw = atob(array.data);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

/** The value a byte stands for. */
export function value(array: ByteArray, byte: number): number {
  return array.min + (byte / 255) * (array.max - array.min);
}

/** An RGBA image of one [channels, h, w] slice starting at `offset` (grey for 1 channel). */
export function toImageData(data: Uint8Array, offset: number, channels: number, h: number, w: number): ImageData {
  const image = new ImageData(w, h);
  const plane = h * w;
  for (let p = 0; p < plane; p++) {
    const r = data[offset + p];
    const g = channels >= 3 ? data[offset + plane + p] : r;
    const b = channels >= 3 ? data[offset + 2 * plane + p] : r;
    image.data[4 * p] = r;
    image.data[4 * p + 1] = g;
    image.data[4 * p + 2] = b;
    image.data[4 * p + 3] = 255;
  }
  return image;
}
