// Loading mechanisms and their per-site patches, cached; patches are fetched lazily, one site at
// a time, and decoded once. `version` bumps when a site's patches arrive so canvases redraw.
import * as api from "../lib/api";
import { bytes, toImageData } from "../lib/bytes";
import type { Mechanism, MechanismPatches } from "../lib/types";

/** RunInfo.mechanisms entries carry more than the type names. */
export interface MechanismSummary {
  id: number;
  name: string;
  created: number;
  n_images?: number;
  data?: { source?: string; split?: string; n?: number };
}

export interface DecodedPatches {
  mech: number;
  site: string;
  data: Uint8Array;
  C: number;
  k: number;
  cin: number;
  ph: number;
  pw: number;
  values: number[][];
}

export const loaded = $state({ version: 0 });

const mechanisms = new Map<number, Promise<Mechanism>>();
const patches = new Map<string, DecodedPatches>();
const pending = new Map<string, Promise<DecodedPatches | null>>();

export function loadMechanism(id: number): Promise<Mechanism> {
  let p = mechanisms.get(id);
  if (!p) {
    p = api.mechanism(id);
    p.catch(() => mechanisms.delete(id));
    mechanisms.set(id, p);
  }
  return p;
}

export function patchesOf(id: number, site: string): DecodedPatches | null {
  return patches.get(`${id}|${site}`) ?? null;
}

export function loadPatches(id: number, site: string): Promise<DecodedPatches | null> {
  const key = `${id}|${site}`;
  const have = patches.get(key);
  if (have) return Promise.resolve(have);
  let p = pending.get(key);
  if (!p) {
    p = api.mechanismPatches(id, site)
      .then((r) => {
        const [C, k, cin, ph, pw] = r.patches.shape;
        const d: DecodedPatches = { mech: id, site, data: bytes(r.patches), C, k, cin, ph, pw, values: r.values };
        patches.set(key, d);
        loaded.version++;
        return d;
      })
      .catch(() => null)
      .finally(() => pending.delete(key));
    pending.set(key, p);
  }
  return p;
}

/** Fetch the patches of several sites, a few at a time, in the given order. */
export async function loadSites(id: number, sites: string[], parallel = 3): Promise<void> {
  const queue = [...sites];
  const worker = async () => {
    while (queue.length) await loadPatches(id, queue.shift()!);
  };
  await Promise.all(Array.from({ length: Math.min(parallel, queue.length) }, worker));
}

const bitmaps = new Map<string, HTMLCanvasElement>();

/** A small canvas holding patch `j` of channel `c` at its native resolution (cached). */
export function patchCanvas(p: DecodedPatches, c: number, j: number): HTMLCanvasElement {
  const key = `${p.mech}|${p.site}|${c}|${j}`;
  let cv = bitmaps.get(key);
  if (!cv) {
    cv = document.createElement("canvas");
    cv.width = p.pw;
    cv.height = p.ph;
    const offset = (c * p.k + j) * p.cin * p.ph * p.pw;
    cv.getContext("2d")!.putImageData(toImageData(p.data, offset, p.cin, p.ph, p.pw), 0, 0);
    bitmaps.set(key, cv);
  }
  return cv;
}
