// Links from this site's critical channels to the next site's: the strongest contributions,
// a column of the next site's kept channels ordered to keep curves short. No DOM.
import type { Link } from "../lib/types";

export interface Anchor {
  x: number;
  y: number;
  size: number;
}

export interface NextItem {
  channel: number;
  x: number;
  y: number;
  size: number;
  linked: boolean;
}

export interface DrawnLink extends Link {
  d: string;
  width: number;
}

export interface NextColumn {
  items: NextItem[];
  links: DrawnLink[];
  shownLinks: number;
  totalLinks: number;
  hiddenChannels: number; // kept channels of the next site left out for lack of room
  maxWeight: number;
}

export function nextColumn(
  next: { kept: number[]; links: Link[] },
  anchors: Map<number, Anchor>,
  o: { x: number; top: number; height: number; maxLinks: number; maxItem?: number },
): NextColumn {
  const sorted = next.links.filter((l) => anchors.has(l.from)).sort((a, b) => Math.abs(b.weight) - Math.abs(a.weight));
  const chosen = sorted.slice(0, o.maxLinks);
  const maxWeight = chosen.length ? Math.abs(chosen[0].weight) || 1 : 1;
  // barycenter of the sources' y for each target
  const sum = new Map<number, [number, number]>();
  for (const l of chosen) {
    const a = anchors.get(l.from)!;
    const s = sum.get(l.to) ?? [0, 0];
    const w = Math.abs(l.weight);
    s[0] += (a.y + a.size / 2) * w;
    s[1] += w;
    sum.set(l.to, s);
  }
  const bary = (ch: number) => {
    const s = sum.get(ch);
    return s && s[1] > 0 ? s[0] / s[1] : Infinity;
  };
  const pitchMin = 7;
  let kept = [...new Set(next.kept)];
  let hidden = 0;
  if (kept.length * pitchMin > o.height) {
    const linked = kept.filter((ch) => sum.has(ch));
    hidden = kept.length - linked.length;
    kept = linked;
  }
  kept.sort((a, b) => bary(a) - bary(b) || a - b);
  const pitch = Math.min(o.maxItem ? o.maxItem * 1.3 : 20, o.height / Math.max(1, kept.length));
  const size = Math.max(3, Math.min(o.maxItem ?? 14, pitch * 0.75));
  const top = o.top + (o.height - pitch * kept.length) / 2;
  const items: NextItem[] = kept.map((channel, i) => ({
    channel,
    x: o.x,
    y: top + i * pitch + (pitch - size) / 2,
    size,
    linked: sum.has(channel),
  }));
  const at = new Map(items.map((it) => [it.channel, it]));
  const links: DrawnLink[] = [];
  for (const l of chosen) {
    const a = anchors.get(l.from)!;
    const b = at.get(l.to);
    if (!b) continue;
    const x1 = a.x + a.size;
    const y1 = a.y + a.size / 2;
    const x2 = b.x;
    const y2 = b.y + b.size / 2;
    const mx = x1 + (x2 - x1) * 0.5;
    links.push({
      ...l,
      d: `M${x1.toFixed(1)},${y1.toFixed(1)}C${mx.toFixed(1)},${y1.toFixed(1)} ${mx.toFixed(1)},${y2.toFixed(1)} ${x2.toFixed(1)},${y2.toFixed(1)}`,
      width: 0.6 + (3.4 * Math.abs(l.weight)) / maxWeight,
    });
  }
  // thin first so strong links lie on top
  links.sort((a, b) => a.width - b.width);
  return { items, links, shownLinks: links.length, totalLinks: next.links.length, hiddenChannels: hidden, maxWeight };
}
