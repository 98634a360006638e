// The UI scale benchmark (bench/ui-scale.sh): the real components on generated data in jsdom.
// Not part of `npm test`: it measures, it asserts no timings. BENCH_REACT=production loads
// React's production build (as the app ships) by setting NODE_ENV before anything imports React.
import { defineConfig } from "vitest/config";
import base from "./vite.config";

const production = process.env.BENCH_REACT === "production";

export default defineConfig({
  ...base,
  // The production JSX runtime too (jsx, not jsxDEV, which React's production build lacks).
  ...(production ? { mode: "production", oxc: { jsx: { runtime: "automatic", development: false } } } : {}),
  test: {
    ...base.test,
    setupFiles: [...(production ? ["./src/bench/production-react.ts"] : []), "./src/test/setup.ts"],
    include: [production ? "src/bench/ui-scale-prod.bench.tsx" : "src/bench/ui-scale.bench.tsx"],
    testTimeout: 600_000,
    hookTimeout: 600_000,
  },
});
