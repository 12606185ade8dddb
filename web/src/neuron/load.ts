// Fetching what the neuron view needs: the channel's data and the images of the three sets.
import { neuronView } from "../lib/api";
import { SETS } from "../lib/config";
import type { Analysis, ImageSet, NeuronView, SetKey } from "../lib/types";
import { imageSet } from "../images/draw";
import { errorText } from "../jobs/follow";

export interface NeuronData {
  analysis: number;
  site: string;
  channel: number;
  neuron: NeuronView;
  images: Partial<Record<SetKey, ImageSet>>;
  imageError: string | null; // images are optional: maps are drawn without them
}

export async function loadNeuron(analysis: Analysis, site: string, channel: number): Promise<NeuronData> {
  const neuronP = neuronView(analysis.id, site, channel);
  const images: Partial<Record<SetKey, ImageSet>> = {};
  let imageError: string | null = null;
  const imagesP = Promise.all(
    SETS.map(async (k) => {
      const info = analysis.sets[k];
      if (!info) return;
      try {
        images[k] = await imageSet(info.image_set);
      } catch (e) {
        imageError = `Images of set ${k} not available: ${errorText(e)}`;
      }
    }),
  );
  const [neuron] = await Promise.all([neuronP, imagesP]);
  return { analysis: analysis.id, site, channel, neuron, images, imageError };
}
