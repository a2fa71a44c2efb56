// Display formats of the audit explorer: counts, entry times, bucket labels, the log key. Pure functions.
import type { TimelineBucket } from "../../bindings";

// The console speaks English; numbers are grouped the English way ("12,345") wherever it runs.
const COUNT = new Intl.NumberFormat("en-US");

/** "12,345". */
export function formatCount(n: number): string {
  return COUNT.format(n);
}

/** "1 entry", "12,345 entries". */
export function countOf(n: number, one: string, many: string): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, "0");
}

/** Local wall-clock time, sortable and dense: "2026-05-01 10:03:12". Empty for an entry without a time. */
export function formatEntryTime(rfc3339: string | null): string {
  if (!rfc3339) return "";
  const d = new Date(rfc3339);
  if (Number.isNaN(d.getTime())) return rfc3339;
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

/** The same instant in UTC with milliseconds, for the hover title: "2026-05-01 08:03:12.345 UTC". */
export function formatUtc(rfc3339: string | null): string {
  if (!rfc3339) return "";
  const d = new Date(rfc3339);
  if (Number.isNaN(d.getTime())) return rfc3339;
  return `${d.toISOString().replace("T", " ").replace("Z", "")} UTC`;
}

/** Milliseconds to the value of an `<input type="datetime-local">` in local time: "2026-05-01T10:00". */
export function toLocalInput(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The value of an `<input type="datetime-local">` (local time) to milliseconds; null when empty or invalid. */
export function fromLocalInput(value: string): number | null {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?$/.test(value)) return null;
  // A date-time without an offset is local time (ECMAScript date-time string format).
  const ms = new Date(value).getTime();
  return Number.isNaN(ms) ? null : ms;
}

export const BUCKET_MS: Record<TimelineBucket, number> = { hour: 3_600_000, day: 86_400_000 };

/** What one timeline bucket covers: "2026-05-01 10:00–11:00" (local) or "2026-05-01 (UTC day)". */
export function formatBucket(startMs: number, bucket: TimelineBucket): string {
  if (bucket === "day") return `${new Date(startMs).toISOString().slice(0, 10)} (UTC day)`;
  const start = new Date(startMs);
  const end = new Date(startMs + BUCKET_MS.hour);
  return `${start.getFullYear()}-${pad(start.getMonth() + 1)}-${pad(start.getDate())} ${pad(start.getHours())}:00–${pad(end.getHours())}:00`;
}

/** A long key shortened for a header, both ends kept: "gatehouse.local/dev+1a2b…Zm9vYmFy". */
export function abbreviate(value: string, head = 24, tail = 8): string {
  return value.length <= head + tail + 1 ? value : `${value.slice(0, head)}…${value.slice(-tail)}`;
}
