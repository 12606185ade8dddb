// The one shared state: what is open and selected. Views read it and change it only through
// the actions below; the three levels (network, layer, neuron) stay in sync through it.
import type { Analysis, Datapath, ProgressEvent, RunInfo, SetKey } from "./types";

export const app = $state({
  run: null as RunInfo | null,
  analysisId: null as number | null,
  analysis: null as Analysis | null,
  site: null as string | null, // the site whose layer view is open
  channel: null as number | null, // the channel whose neuron view is open
  expanded: [] as string[], // expanded segments of the network view
  // A job in progress: its latest event (gates stream into the network view while it runs).
  live: null as ProgressEvent | null,
  // The latest gates of each set being optimised by that job: site -> gate per channel.
  liveGates: {} as Partial<Record<SetKey, Record<string, number[]>>>,
  // A datapath of a subset of one set's images, shown in place of that set's band.
  subset: null as { set: SetKey; images: number[]; datapath: Datapath } | null,
  error: null as string | null,
  // The top-level page when the run holds training records: "datapaths" or "training".
  page: null as "datapaths" | "training" | "mechanism" | null,
  // The training views' selection: a snapshot window (indices into the run's snapshots,
  // `stop` exclusive, as in /api/training/series?start=&stop=), a site, a neuron, a statistic.
  training: {
    window: null as TrainingWindow | null,
    site: null as string | null,
    neuron: null as number | null,
    stat: "act_mean",
  },
  // The mechanism page: the mechanism shown, the one compared with it (drawn below it), and
  // the selected cluster (of either).
  mechanism: {
    id: null as number | null,
    compare: null as number | null,
    selected: null as { mech: number; site: string; cluster: number } | null,
  },
});

export interface TrainingWindow {
  start: number;
  stop: number;
}

export function selectTrainingSite(site: string | null): void {
  app.training.site = site;
  app.training.neuron = null;
}

export function selectTrainingNeuron(site: string, neuron: number | null): void {
  app.training.site = site;
  app.training.neuron = neuron;
}

export function selectSite(site: string | null): void {
  app.site = site;
  app.channel = null;
}

export function selectChannel(site: string, channel: number): void {
  app.site = site;
  app.channel = channel;
}

// ---------------------------------------------------------------- actions: the only writers

export function setRun(run: RunInfo): void {
  app.run = run;
}

export function showError(message: string | null): void {
  app.error = message;
}

export function showPage(page: "datapaths" | "training" | "mechanism"): void {
  app.page = page;
}

/** Open analysis `id`: nothing of the previous one stays selected until `analysis` arrives. */
export function beginAnalysis(id: number): void {
  app.analysisId = id;
  app.site = null;
  app.channel = null;
  app.subset = null;
}

export function setAnalysis(analysis: Analysis): void {
  if (analysis.id === app.analysisId) app.analysis = analysis;
}

export function setExpanded(segments: string[]): void {
  app.expanded = segments;
}

/** Show the datapath of a subset of one set in place of that set's (null: the set's own). */
export function showSubset(subset: { set: SetKey; images: number[]; datapath: Datapath } | null): void {
  app.subset = subset;
}

/** A job started: forget the gates of any earlier one. */
export function clearLive(): void {
  app.live = null;
  app.liveGates = {};
}

export function showProgress(event: ProgressEvent): void {
  app.live = event;
  if (event.set && event.gates) app.liveGates[event.set] = event.gates;
}

export function setTrainingWindow(next: TrainingWindow | null): void {
  const w = app.training.window;
  if (w === next || (w && next && w.start === next.start && w.stop === next.stop)) return;
  app.training.window = next;
}

export function setTrainingStat(stat: string): void {
  app.training.stat = stat;
}

/** Show mechanism `id`; the one compared with it swaps places when it was `id`. */
export function showMechanism(id: number | null): void {
  const old = app.mechanism.id;
  app.mechanism.id = id;
  if (id !== null && app.mechanism.compare === id) app.mechanism.compare = old;
  const s = app.mechanism.selected;
  if (id !== null && s && s.mech !== id && s.mech !== app.mechanism.compare) app.mechanism.selected = { ...s, mech: id };
}

export function compareMechanism(id: number | null): void {
  app.mechanism.compare = id;
}

export function selectCluster(mech: number, site: string, cluster: number): void {
  app.mechanism.selected = { mech, site, cluster };
}
