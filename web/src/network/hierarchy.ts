// The segment tree of a network (stage -> block -> sites) and which nodes are visible for a set
// of expanded segments. No DOM: plain data in, plain data out.
import type { Site } from "../lib/types";

/** One visible node of the collapsed graph: a collapsed segment or a single site. */
export interface Unit {
  id: number; // position in forward order among the visible units
  kind: "segment" | "site";
  name: string; // segment name or site name
  sites: number[]; // indices (into the sites array, forward order) of the sites it stands for
  parents: string[]; // expanded segments that enclose it, outermost first
}

export interface SegmentInfo {
  name: string;
  depth: number; // 0 for a stage
  parent: string | null;
  sites: number[]; // every site inside, forward order
  children: string[]; // child segments, forward order
}

export interface Hierarchy {
  segments: Map<string, SegmentInfo>;
  top: string[]; // top-level segments, forward order
  maxDepth: number; // deepest segment depth + 1
}

/** The segment tree of the sites (sorted by `index`). */
export function buildHierarchy(sites: Site[]): Hierarchy {
  const segments = new Map<string, SegmentInfo>();
  const top: string[] = [];
  let maxDepth = 0;
  sites.forEach((site, i) => {
    let parent: string | null = null;
    site.segment.forEach((name, depth) => {
      let info = segments.get(name);
      if (!info) {
        info = { name, depth, parent, sites: [], children: [] };
        segments.set(name, info);
        if (parent === null) top.push(name);
        else segments.get(parent)!.children.push(name);
      }
      info.sites.push(i);
      parent = name;
      maxDepth = Math.max(maxDepth, depth + 1);
    });
  });
  return { segments, top, maxDepth };
}

/** The visible units in forward order for the expanded segments, and each site's unit. */
export function visibleUnits(sites: Site[], expanded: ReadonlySet<string>): { units: Unit[]; unitOf: Int32Array } {
  const units: Unit[] = [];
  const byKey = new Map<string, Unit>();
  const unitOf = new Int32Array(sites.length);
  sites.forEach((site, i) => {
    let kind: Unit["kind"] = "site";
    let name = site.name;
    const parents: string[] = [];
    for (const seg of site.segment) {
      if (!expanded.has(seg)) {
        kind = "segment";
        name = seg;
        break;
      }
      parents.push(seg);
    }
    const key = kind === "site" ? `s:${name}` : `g:${name}`;
    let unit = byKey.get(key);
    if (!unit) {
      unit = { id: units.length, kind, name, sites: [], parents };
      units.push(unit);
      byKey.set(key, unit);
    }
    unit.sites.push(i);
    unitOf[i] = unit.id;
  });
  return { units, unitOf };
}

/** Every segment at depth < `level`: expanding "level" levels of the tree. */
export function expandedToLevel(h: Hierarchy, level: number): string[] {
  const out: string[] = [];
  for (const info of h.segments.values()) if (info.depth < level) out.push(info.name);
  return out;
}

/** The part of `name` after its parent's name ("layer1.0.relu1" in "layer1.0" -> "relu1"). */
export function relativeName(name: string, parent: string | undefined): string {
  if (parent && name.startsWith(parent) && name.length > parent.length) {
    const rest = name.slice(parent.length).replace(/^[.\-_/:]+/, "");
    if (rest) return rest;
  }
  return name;
}
