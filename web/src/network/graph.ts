// The site graph collapsed onto the visible units, and its transitive reduction: residual
// networks connect every block output to every later block input ("bus" edges); drawing only
// the edges no longer path implies keeps the picture readable. No DOM.

export type Edge = [number, number];

/** Unit edges from site edges (site indices), without self loops, duplicates or backward edges
 *  (units are numbered in forward order, so a backward edge can only come from a malformed graph). */
export function collapseEdges(siteEdges: Edge[], unitOf: Int32Array): Edge[] {
  const seen = new Set<number>();
  const out: Edge[] = [];
  const n = unitOf.length + 1;
  for (const [a, b] of siteEdges) {
    const u = unitOf[a];
    const v = unitOf[b];
    if (u >= v) continue;
    const key = u * n + v;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push([u, v]);
  }
  return out;
}

/** Split the edges of a DAG whose nodes 0..n-1 are in topological order into those of its
 *  transitive reduction (`kept`) and those implied by longer paths (`removed`). O(n·e/32). */
export function transitiveReduction(n: number, edges: Edge[]): { kept: Edge[]; removed: Edge[] } {
  const words = Math.ceil(n / 32) || 1;
  const reach = new Uint32Array(n * words); // reach[u]: nodes reachable from u, u excluded
  const succ: number[][] = Array.from({ length: n }, () => []);
  for (const [u, v] of edges) succ[u].push(v);
  const kept: Edge[] = [];
  const removed: Edge[] = [];
  for (let u = n - 1; u >= 0; u--) {
    const list = succ[u].sort((a, b) => a - b);
    const base = u * words;
    for (const v of list) {
      if (reach[base + (v >>> 5)] & (1 << (v & 31))) {
        removed.push([u, v]);
        continue;
      }
      kept.push([u, v]);
      reach[base + (v >>> 5)] |= 1 << (v & 31);
      const vb = v * words;
      for (let w = 0; w < words; w++) reach[base + w] |= reach[vb + w];
    }
  }
  return { kept, removed };
}

/** Of the removed edges, for each target the one from the latest source: in a residual network
 *  the identity skip around the block just before the target. Drawn faintly. */
export function skipEdges(removed: Edge[]): Edge[] {
  const best = new Map<number, number>();
  for (const [u, v] of removed) if ((best.get(v) ?? -1) < u) best.set(v, u);
  return [...best].map(([v, u]) => [u, v] as Edge).sort((a, b) => a[1] - b[1]);
}
