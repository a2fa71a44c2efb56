// Formatting of times, durations and labels for display; pure functions, unit-tested.
import type { Environment, ServerInfo } from "../bindings";

const MINUTE = 60;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Days before a certificate's expiry at which the console starts warning. */
export const EXPIRY_WARNING_DAYS = 14;

/** Human uptime: "45 s", "12 min", "3 h 12 min", "2 d 4 h". */
export function formatUptime(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds));
  if (s < MINUTE) return `${s} s`;
  if (s < HOUR) return `${Math.floor(s / MINUTE)} min`;
  if (s < DAY) {
    const h = Math.floor(s / HOUR);
    const min = Math.floor((s % HOUR) / MINUTE);
    return min === 0 ? `${h} h` : `${h} h ${min} min`;
  }
  const d = Math.floor(s / DAY);
  const h = Math.floor((s % DAY) / HOUR);
  return h === 0 ? `${d} d` : `${d} d ${h} h`;
}

/**
 * A UTC instant shown in the viewer's local time with the zone name, e.g. "14 Mar 2027, 09:30 CET".
 * `timeZone` is for tests; the app always uses the system zone.
 */
export function formatLocalTime(rfc3339: string, timeZone?: string): string {
  const date = new Date(rfc3339);
  if (Number.isNaN(date.getTime())) return rfc3339;
  return new Intl.DateTimeFormat(undefined, {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    timeZoneName: "short",
    ...(timeZone ? { timeZone } : {}),
  }).format(date);
}

/** How far `rfc3339` is from `now`, for deadlines: "in 3 h 12 min", "12 min ago", "in under a minute". */
export function formatRelative(rfc3339: string, now: Date): string {
  const at = Date.parse(rfc3339);
  if (Number.isNaN(at)) return rfc3339;
  const seconds = Math.round((at - now.getTime()) / 1000);
  if (seconds >= 0 && seconds < MINUTE) return "in under a minute";
  if (seconds < 0 && seconds > -MINUTE) return "under a minute ago";
  return seconds > 0 ? `in ${formatUptime(seconds)}` : `${formatUptime(-seconds)} ago`;
}

export type ExpiryStatus =
  | { kind: "valid"; daysLeft: number }
  | { kind: "expiring"; daysLeft: number }
  | { kind: "expired" }
  | { kind: "unknown" };

/** Whether a certificate valid until `notAfter` is fine, close to expiry (within 14 days) or expired. */
export function expiryStatus(notAfter: string, now: Date): ExpiryStatus {
  const end = new Date(notAfter).getTime();
  if (Number.isNaN(end)) return { kind: "unknown" };
  const remaining = end - now.getTime();
  if (remaining <= 0) return { kind: "expired" };
  const daysLeft = Math.floor(remaining / (DAY * 1000));
  return remaining <= EXPIRY_WARNING_DAYS * DAY * 1000
    ? { kind: "expiring", daysLeft }
    : { kind: "valid", daysLeft };
}

/** "in 3 days", "in 1 day", "within a day": how soon an expiring certificate runs out. */
export function describeDaysLeft(daysLeft: number): string {
  if (daysLeft <= 0) return "within a day";
  if (daysLeft === 1) return "in 1 day";
  return `in ${daysLeft} days`;
}

export const ENVIRONMENT_LABELS: Record<Environment, string> = {
  development: "Development",
  staging: "Staging",
  production: "Production",
};

export const DATABASE_LABELS: Record<ServerInfo["database"], string> = {
  sqlite: "SQLite",
  postgres: "PostgreSQL",
};

/**
 * An exact hbar amount from Rust ("50000000000", "-2.5") with its whole part grouped in thousands
 * ("50,000,000,000 ℏ"). Done on the text, so no digit is lost to floating point.
 */
export function formatHbar(exact: string): string {
  const [whole = "", fraction] = exact.split(".");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${fraction ? `${grouped}.${fraction}` : grouped} ℏ`;
}
