// One tooltip for the whole page: lines of text at the pointer.
export const tip = $state({ x: 0, y: 0, lines: [] as string[] });

export function showTip(e: MouseEvent, lines: string[]): void {
  tip.x = Math.min(e.clientX + 14, window.innerWidth - 300);
  tip.y = Math.min(e.clientY + 14, window.innerHeight - 20 - 17 * lines.length);
  tip.lines = lines;
}

export function hideTip(): void {
  tip.lines = [];
}

export const fmt = (v: number, digits = 3): string =>
  Math.abs(v) >= 1000 ? v.toFixed(0) : Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(digits);
