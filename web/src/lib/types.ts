// The JSON the server (`pathlens serve`) answers, and that a report (`pathlens report`) embeds.
// Every type is GENERATED from the server's OpenAPI schema (pydantic models in
// pathlens/server/_models.py and siblings): `npm run gen` writes ./api-schema.d.ts from
// ../openapi.json, which `python -m pathlens.server.schema` writes (scripts/setup.sh does both).
// A change on the Python side that breaks a view fails `npm run check`.
import type { components, paths } from "./api-schema";

type Schemas = components["schemas"];

export type { paths };
export type SetKey = "A" | "B" | "C";

/** A dense array of bytes: values quantised to 0..255 over [min, max], row-major, base64. */
export type ByteArray = Schemas["ByteArray"];
export type Site = Schemas["Site"];
export type NetworkInfo = Schemas["NetworkInfo"];
export type AnalysisSummary = Schemas["AnalysisSummary"];
export type DatapathSummary = Schemas["DatapathSummary"];
export type ImageSetSummary = Schemas["ImageSetSummary"];
export type RunInfo = Schemas["RunInfo"];
export type Fidelity = Schemas["Fidelity"];
/** GET /api/datapaths/{id}; an analysis embeds one per set (AnalysisDatapath). */
export type Datapath = Schemas["Datapath"];
export type AnalysisDatapath = Schemas["AnalysisDatapath"];
export type SiteComparison = Schemas["SiteComparison"];
export type ErrorChannel = Schemas["ErrorChannel"];
export type SetInfo = Schemas["SetInfo"];
export type Analysis = Schemas["Analysis"];
export type Link = Schemas["Link"];
export type LayerView = Schemas["LayerView"];
export type NeuronView = Schemas["NeuronView"];
export type ImageSet = Schemas["ImageSet"];

export type JobStatus = Schemas["Job"]["status"];
/** POST /api/jobs bodies */
export type JobRequest = Schemas["AdversarialRequest"] | Schemas["DatapathRequest"];
export type Job = Schemas["Job"];
/** SSE GET /api/jobs/{id}/events: `event: progress` with this as data, then one
 *  `event: done` (data: Job) or `event: failed` (data: Job). */
export type ProgressEvent = Schemas["ProgressEvent"];

export type TrainingProgress = Schemas["TrainingProgress"];
export type TrainingSite = Schemas["TrainingSite"];
export type TrainingInfo = Schemas["TrainingInfo"];
export type TrainingScalars = Record<string, Schemas["ScalarSeries"]>;
export type NeuronSeries = Schemas["NeuronSeries"];
export type TrainingAnomalies = Schemas["TrainingAnomalies"];
export type CreditGraph = Schemas["CreditGraph"];

export type MechanismCluster = Schemas["MechanismCluster"];
export type MechanismSite = Schemas["MechanismSite"];
export type MechanismBundle = Schemas["MechanismBundle"];
export type MechanismEdge = Schemas["MechanismEdge"];
export type Mechanism = Schemas["Mechanism"];
export type MechanismPatches = Schemas["MechanismPatches"];
