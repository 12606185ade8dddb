// Defaults of the new-analysis form: the open (or last) analysis's pair and attack, else 9 -> 7.
import type { Analysis, RunInfo } from "../lib/types";

export function defaults(run: RunInfo, open: Analysis | null): { source: number; target: number; attack: string } {
  const classes = classNames(run).length;
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

/** The class names to choose from; "class i" when the model does not name them. */
export function classNames(run: RunInfo | null): string[] {
  if (!run) return [];
  if (run.model?.classes?.length) return run.model.classes;
  const used = run.analyses.flatMap((a) => [a.source, a.target]);
  return Array.from({ length: Math.max(10, ...used.map((c) => c + 1)) }, (_, i) => `class ${i}`);
}
