// The JSON the server (`pathlens serve`) answers, and that a report (`pathlens report`) embeds.
// One type per endpoint; the Python side is `pathlens/server/_views.py`.

export type SetKey = "A" | "B" | "C";

/** A dense array of bytes: values quantised to 0..255 over [min, max], row-major. */
export interface ByteArray {
  shape: number[]; // e.g. [n, height, width] for maps, [n, channels, height, width] for images
  min: number; // the value that 0 stands for
  max: number; // the value that 255 stands for
  data: string; // base64 of the uint8 bytes
}

export interface Site {
  name: string; // the module's qualified name, e.g. "layer2.0.bn2"
  channels: number;
  kind: string; // "conv", "branch", "block", "linear", ...
  segment: string[]; // enclosing modules, outermost first: ["layer2", "layer2.0"]
  shape: number[]; // one example's output at this site: [C, H, W] or [C]
  index: number; // forward order
}

export interface NetworkInfo {
  sites: Site[];
  edges: [string, string][]; // site -> site, data flows between them
  graph_source: string; // "fx" or "hooks"
}

export interface AnalysisSummary {
  id: number;
  name: string;
  created: number; // unix seconds
  kind: string; // "adversarial"
  source: number;
  target: number;
}

export interface DatapathSummary {
  id: number;
  name: string;
  created: number;
  method: string;
  n_images: number;
  kept_fraction: number;
  image_set: number | null;
}

export interface ImageSetSummary {
  id: number;
  name: string;
  created: number;
  n: number;
  shape: number[];
}

/** GET /api/run */
export interface RunInfo {
  name: string; // the run folder's name
  model: { spec: string; classes: string[] | null; input_shape: number[] } | null;
  network: NetworkInfo | null;
  analyses: AnalysisSummary[];
  datapaths: DatapathSummary[];
  image_sets: ImageSetSummary[];
  can_run_jobs: boolean; // false in a report, or when the run's model cannot be loaded
  training: boolean; // the run holds training records (GET /api/training)
  mechanisms: {
    id: number;
    name: string;
    created: number;
    n_images: number;
    data: { source?: string; split?: string; n?: number };
  }[]; // GET /api/mechanisms/{id}
  attacks: string[]; // attack names a new analysis may use
}

export interface Fidelity {
  sufficiency: number;
  specificity: number | null;
  necessity: number;
}

/** GET /api/datapaths/{id} (also embedded in an analysis, per set) */
export interface Datapath {
  id?: number;
  name?: string;
  image_set?: number | null;
  channels: Record<string, number[]>; // site -> kept channel indices
  scores: Record<string, number[]>; // site -> one score per channel (gate value for "gates")
  site_channels: Record<string, number>;
  fidelity: Fidelity;
  method: string;
  targets: number[];
  kept_fraction: number;
  n_control: number;
  timing: Record<string, number>;
}

export interface SiteComparison {
  site: string;
  jaccard: number; // overlap of kept channels
  similarity: number; // cosine similarity of per-channel mean activations
  shared: number[];
  only_a: number[];
  only_b: number[];
}

export interface ErrorChannel {
  site: string;
  channel: number;
  side: string; // "adversarial only" (in A's datapath, not B's) or "normal only"
  contribution: number; // gradient x activation toward the target class
}

export interface SetInfo {
  size: number;
  description: string;
  image_set: number; // id of the stored images
  datapath: number; // id of the stored datapath
  indices: number[]; // positions in the data set the analysis drew from
  predictions: number[]; // predicted class per image
  confidence: number[]; // softmax probability of that prediction
}

/** GET /api/analyses/{id} */
export interface Analysis {
  id: number;
  name: string;
  source: number;
  target: number;
  source_name: string;
  target_name: string;
  sites: string[]; // forward order
  sets: Record<SetKey, SetInfo>;
  datapaths: Record<SetKey, Datapath>;
  comparisons: { AB: SiteComparison[]; AC: SiteComparison[] }; // one per site, forward order
  progress: number[]; // per site: where A stands between B (0) and C (1)
  divergence: string | null;
  merge: string | null;
  error_channels: ErrorChannel[]; // strongest first
  attack: Record<string, number | string>;
  timing: Record<string, number>;
}

export interface Link {
  from: number; // channel at this site
  to: number; // channel at the next site
  weight: number; // contribution (signed), gradient x activation through the edge, set A
}

/** GET /api/analyses/{id}/sites/{site}: the layer view */
export interface LayerView {
  site: string;
  channels: number;
  shape: number[];
  kept: Record<SetKey, number[]>;
  mean: Record<SetKey, number[]>; // mean activation per channel (all C channels) per set
  order: number[]; // the union of kept channels, ordered so that alike channels are adjacent
  position: Record<string, [number, number]>; // channel -> 2-D position in [0,1]^2, alike near
  next: { site: string; kept: number[]; links: Link[] }[]; // to each following site
  error_channels: ErrorChannel[]; // those at this site
}

/** GET /api/analyses/{id}/neurons/{site}/{channel}: the neuron view */
export interface NeuronView {
  site: string;
  channel: number;
  maps: Record<SetKey, ByteArray>; // [n, h, w] activation at the site's resolution
  mean: Record<SetKey, number[]>; // mean activation per image
  in_datapath: Record<SetKey, boolean>;
  score: Record<SetKey, number>; // the datapath score (gate) of this channel per set
  patches: ByteArray; // [k, channels, ph, pw] top-activating input patches (pixels 0..1)
  patch_values: number[];
  patch_images: number[];
  maximization: ByteArray | null; // [channels, h, w] activation-maximisation image
}

/** GET /api/image_sets/{id} */
export interface ImageSet {
  id: number;
  name: string;
  n: number;
  labels: number[] | null;
  meta: Record<string, unknown>;
  images: ByteArray; // [n, channels, h, w], pixels 0..1
}

export type JobStatus = "queued" | "running" | "done" | "failed" | "interrupted";

/** POST /api/jobs bodies */
export type JobRequest =
  | { kind: "adversarial"; source: number; target: number; attack: string; eps: number; n: number }
  | { kind: "datapath"; analysis: number; set: SetKey; images: number[] };

/** GET /api/jobs/{id}; POST /api/jobs answers the same (status "queued") */
export interface Job {
  id: number;
  kind: "adversarial" | "datapath";
  status: JobStatus;
  created: number;
  params: Record<string, unknown>;
  progress: ProgressEvent | null; // the latest event
  result: { analysis?: number; datapath?: number } | null;
  error: string | null;
}

/** SSE GET /api/jobs/{id}/events: `event: progress` with this as data, then one
 *  `event: done` (data: Job) or `event: failed` (data: Job). */
export interface ProgressEvent {
  fraction: number; // overall progress of the job, 0..1
  message: string; // for a person: "datapath of A: step 40, kept 12%"
  stage: string; // "attack", "datapath", "comparison", "contributions", "neurons", ...
  set?: SetKey;
  step?: number;
  max_steps?: number;
  kept_fraction?: number;
  sufficiency?: number;
  gates?: Record<string, number[]>; // site -> gate value per channel, while optimising
}

/** Errors: any 4xx/5xx answers {"detail": "what was wrong and what to do"}. */
export interface ApiError {
  detail: string;
}

// ---------------------------------------------------------------- training runs (Tracker)

/** GET /api/training/events: `event: update` with this, whenever the run changes. */
export interface TrainingProgress {
  snapshots: number; // completed snapshots
  last_snapshot_step: number | null;
  last_step: number | null; // last step with a committed scalar
  status: string; // "running" | "finished" | "failed" | "unknown"
}

export interface TrainingSite {
  name: string; // "generator/main.2" when several models are tracked
  model: string; // "generator", or "model" for a single model
  module: string;
  channels: number;
  kind: string;
}

/** GET /api/training */
export interface TrainingInfo extends TrainingProgress {
  every: number; // steps between snapshots
  models: Record<string, { class: string | null; network: NetworkInfo | null }>;
  sites: TrainingSite[];
  stats: string[]; // "act_mean", "act_std", "grad_norm", "weight_norm", "update_norm"
  scalars: string[]; // scalar names ("loss_d", "loss_g", ...)
  snapshot_steps: number[]; // training step of each snapshot
}

/** GET /api/training/scalars?name=a&name=b (all when none): long series are reduced to
 *  the min and max of each bucket, so spikes survive. null = NaN/inf. */
export type TrainingScalars = Record<string, { steps: number[]; values: (number | null)[] }>;

/** GET /api/training/series?site=&stat=&n=150&start=&stop= (start/stop: snapshot indices) */
export interface NeuronSeries {
  site: string;
  stat: string;
  steps: number[]; // the window's snapshot steps
  neurons: number; // all neurons of the site
  drawn: { neuron: number; outlier: boolean; score: number; values: (number | null)[] }[];
  band: Record<"p05" | "p25" | "p50" | "p75" | "p95", (number | null)[]>; // all neurons
  outliers: number; // how many neurons of the site are outliers (all are drawn)
}

/** GET /api/training/anomalies?start=&stop= (detectors over a snapshot window) */
export interface TrainingAnomalies {
  sites: Record<string, { score: number; flags: string[]; neurons: Record<string, number[]> }>;
  run: Record<string, unknown>; // run-level findings, e.g. mode_collapse, d_domination
  first: Record<string, { site: string; snapshot: number; step: number } | null>; // where/when
}

/** GET /api/training/credit?site=&neuron=&start=&stop=&depth=2 */
export interface CreditGraph {
  nodes: { site: string; neuron: number; credit: number }[];
  edges: { from: [string, number]; to: [string, number]; weight: number }[];
}

// ---------------------------------------------------------------- mechanism (CNNVis-style)
// RunInfo.mechanisms lists them: {id, name, created, n_images, data: {source, split, n}}.

export interface MechanismCluster {
  id: number; // draw order (rows of the class matrix in optimal leaf order)
  channels: number[];
  size: number;
  representative: number; // the channel nearest the cluster's mean profile
  cohesion: number; // mean silhouette of its channels
  class_means: number[]; // [K] mean activation per class
}

export interface MechanismSite {
  name: string;
  channels: number;
  shape: number[];
  patch_size: [number, number];
  n_clusters: number;
  chosen_by: string;
  silhouette: Record<string, number>; // k -> mean silhouette
  labels: number[]; // cluster id per channel
  channel_order: number[]; // all channels, cluster by cluster, leaf order
  clusters: MechanismCluster[];
  class_matrix: number[][]; // [cluster][class]
  class_order: number[]; // class indices in column order
  stats: { mean: number[]; max_mean: number[]; fill: number[]; spread: number[] };
}

export interface MechanismBundle {
  sources: number[]; // cluster ids at the edge's source site
  targets: number[]; // cluster ids at the target site
  weight: number; // signed sum of channel contributions
  strength: number; // sum of |contributions|
  share: number; // of the edge's total strength
  pairs: number;
}

export interface MechanismEdge {
  index: number;
  source: string;
  target: string;
  total_weight: number;
  total_strength: number;
  cluster_weight: number[][];
  cluster_strength: number[][];
  bundles: MechanismBundle[]; // strongest first
}

/** GET /api/mechanisms/{id} */
export interface Mechanism {
  id: number;
  name: string;
  n_images: number;
  classes: string[];
  class_counts: number[];
  data: { source?: string; split?: string; n?: number };
  network: NetworkInfo;
  sites: MechanismSite[];
  edges: MechanismEdge[];
  settings: Record<string, unknown>;
  timing: Record<string, number>;
}

/** GET /api/mechanisms/{id}/patches?site=<encodeURIComponent(site)> */
export interface MechanismPatches {
  site: string;
  patches: ByteArray; // [C, k, C_in, ph, pw] pixels 0..1 (zero-padded outside the image)
  values: number[][]; // [C][k] activation of each patch
}
