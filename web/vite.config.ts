import { svelte } from "@sveltejs/vite-plugin-svelte";
import { defineConfig } from "vite";

// The build goes into the Python package, which serves it (`pathlens serve`) and inlines it
// into self-contained reports (`pathlens report`). Relative asset URLs and one script chunk
// keep both working.
export default defineConfig({
  plugins: [svelte()],
  base: "./",
  build: {
    outDir: "../src/pathlens/server/static",
    emptyOutDir: true,
    cssCodeSplit: false,
    assetsInlineLimit: 100_000_000,
    chunkSizeWarningLimit: 4000,
  },
  server: {
    proxy: { "/api": "http://127.0.0.1:8765" },
  },
});
