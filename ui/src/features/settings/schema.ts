import { z } from "zod";

export const LIMITS = {
  maxConcurrentJobs: { min: 1, max: 32 },
  maxJobsPerConnection: { min: 1, max: 16 },
  disksPerExport: { min: 1, max: 16 },
} as const;

const wholeNumber = (label: string, min: number, max: number) =>
  z
    .number({ error: `${label} must be a number` })
    .int(`${label} must be a whole number`)
    .min(min, `${label} must be between ${min} and ${max}`)
    .max(max, `${label} must be between ${min} and ${max}`);

export const settingsSchema = z.object({
  max_concurrent_jobs: wholeNumber(
    "Jobs at once",
    LIMITS.maxConcurrentJobs.min,
    LIMITS.maxConcurrentJobs.max,
  ),
  max_jobs_per_connection: wholeNumber(
    "Jobs per connection",
    LIMITS.maxJobsPerConnection.min,
    LIMITS.maxJobsPerConnection.max,
  ),
  disks_per_export: wholeNumber("Disks at once", LIMITS.disksPerExport.min, LIMITS.disksPerExport.max),
});

export type SettingsFormValues = z.infer<typeof settingsSchema>;
