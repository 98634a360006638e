import { LOCAL_ZONE } from "./schema";

/** This computer's IANA zone, as the window sees it (the core asks the OS the same question). */
export function localTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

let cached: string[] | null = null;

/** Every IANA zone the platform knows, sorted, with UTC. */
export function ianaTimeZones(): string[] {
  if (cached) return cached;
  let zones: string[] = [];
  try {
    zones = Intl.supportedValuesOf("timeZone");
  } catch {
    zones = [];
  }
  cached = [...new Set(["UTC", ...zones])].sort((a, b) => a.localeCompare(b));
  return cached;
}

export type ZoneOption = { value: string; label: string };

/**
 * Options for the zone picker: "this computer's zone" first, then every IANA zone. A saved zone
 * the platform does not list (an alias such as US/Eastern) is kept as an option so editing a
 * schedule never changes its zone silently.
 */
export function timeZoneOptions(current?: string): ZoneOption[] {
  const zones = ianaTimeZones();
  const options: ZoneOption[] = [
    { value: LOCAL_ZONE, label: `This computer's zone (${localTimeZone()})` },
    ...zones.map((z) => ({ value: z, label: z })),
  ];
  if (current && current !== LOCAL_ZONE && !zones.includes(current)) options.splice(1, 0, { value: current, label: current });
  return options;
}

/** Search that ignores case and treats "_" as a space: "new york" finds America/New_York. */
export function zoneMatches(label: string, search: string): boolean {
  const norm = (s: string) => s.toLowerCase().replace(/_/g, " ");
  return norm(label).includes(norm(search.trim()));
}

/** How a schedule's zone reads in a list: `local` says which zone that is. */
export function zoneLabel(zone: string): string {
  return zone === LOCAL_ZONE ? `Local (${localTimeZone()})` : zone;
}
