// Defaults of the new-analysis form: the open (or last) analysis's pair and attack, else 9 -> 7.
import type { Analysis, RunInfo } from "../lib/types";

export function defaults(run: RunInfo, open: Analysis | null): { source: number; target: number; attack: string } {
  const classes = run.model?.classes?.length ?? 10;
  const last = open ?? run.analyses.at(-1) ?? null;
  let source = last ? last.source : Math.min(9, classes - 1);
  let target = last ? last.target : Math.min(7, classes - 2);
  if (source === target) target = (source + 1) % classes;
  const attacks = run.attacks;
  const used = open?.attack?.method ?? open?.attack?.name ?? open?.attack?.attack;
  const attack =
    typeof used === "string" && attacks.includes(used) ? used : attacks.includes("pgd") ? "pgd" : (attacks[0] ?? "pgd");
  return { source, target, attack };
}
