// Render timings of the network view, read by tests and benchmarks from the browser.
export interface NetworkTiming {
  lastLayoutMs: number; // visible units + transitive reduction + layout
  lastRenderMs: number; // from the click to the DOM being updated (layout included)
  lastFrameMs?: number; // from the click to the next animation frame
}

declare global {
  interface Window {
    __pathlens_timing?: NetworkTiming;
  }
}

export function setTiming(t: NetworkTiming): void {
  if (typeof window !== "undefined") window.__pathlens_timing = t;
}
