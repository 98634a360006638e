// What the window benchmarks report: medians and p90s of millisecond samples, and the machine's
// load (it is shared, so the load beside each run says which runs compare).
import fs from "node:fs";

const sorted = (xs) => [...xs].sort((a, b) => a - b);

export const median = (xs) => {
  const s = sorted(xs);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** The smallest sample that 90 % of the samples do not exceed. */
export const p90 = (xs) => sorted(xs)[Math.ceil(0.9 * xs.length) - 1];

/** The load averages over 1, 5 and 15 minutes, as /proc/loadavg gives them. */
export const loadAverages = () => fs.readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
