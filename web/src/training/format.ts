// Numbers as words for labels (short) and tooltips (exact enough to compare). No DOM.

/** Tooltip precision: six significant digits, no trailing zeros; "NaN/inf" for null. */
export function exact(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "NaN/inf";
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e6 || a < 1e-4) return v.toExponential(4);
  return String(Number(v.toPrecision(6)));
}

/** Axis/label precision: three significant digits. */
export function short(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1);
  return String(Number(v.toPrecision(3)));
}

export function plural(n: number, word: string, many = word + "s"): string {
  return `${n} ${n === 1 ? word : many}`;
}
