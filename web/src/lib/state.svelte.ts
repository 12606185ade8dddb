// The one shared state: what is open and selected. Views read it and set it; the three levels
// (network, layer, neuron) stay in sync through it.
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
