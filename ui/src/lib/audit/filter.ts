// The explorer's filter: what the inputs hold (a draft of strings) and the AuditFilter sent to Rust.
import type { AuditFilter } from "../../bindings";
import { fromLocalInput } from "./format";

/** The filter inputs as typed. Empty strings do not filter; times are `datetime-local` values (local time). */
export type FilterDraft = {
  text: string;
  actor: string;
  action: string;
  outcome: string;
  object: string;
  since: string;
  until: string;
};

export function emptyDraft(): FilterDraft {
  return { text: "", actor: "", action: "", outcome: "", object: "", since: "", until: "" };
}

export const NO_FILTER: AuditFilter = {
  text: null,
  sinceMs: null,
  untilMs: null,
  actor: null,
  action: null,
  outcome: null,
  object: null,
};

const orNull = (value: string): string | null => (value === "" ? null : value);

/** The filter Rust receives: plain words with single spaces, no empty strings, times in ms since the epoch. */
export function toFilter(draft: FilterDraft): AuditFilter {
  const words = draft.text.trim().split(/\s+/).filter(Boolean).join(" ");
  return {
    text: orNull(words),
    sinceMs: fromLocalInput(draft.since),
    untilMs: fromLocalInput(draft.until),
    actor: orNull(draft.actor),
    action: orNull(draft.action),
    outcome: orNull(draft.outcome),
    // Leading and trailing spaces are never meant in an object prefix.
    object: orNull(draft.object.trim()),
  };
}

export function sameFilter(a: AuditFilter, b: AuditFilter): boolean {
  return (
    a.text === b.text &&
    a.sinceMs === b.sinceMs &&
    a.untilMs === b.untilMs &&
    a.actor === b.actor &&
    a.action === b.action &&
    a.outcome === b.outcome &&
    a.object === b.object
  );
}

export function isEmptyFilter(f: AuditFilter): boolean {
  return sameFilter(f, NO_FILTER);
}

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * The filter in words, for people (the export's `selection`, written into the bundle):
 * `actor is "alice"; outcome is "denied"; time from 2026-05-01T10:00:00.000Z`. Times are UTC so the
 * description means the same wherever it is read.
 */
export function describeFilter(f: AuditFilter): string {
  const parts: string[] = [];
  if (f.text) parts.push(`words ${JSON.stringify(f.text)}`);
  if (f.actor) parts.push(`actor is ${JSON.stringify(f.actor)}`);
  if (f.action) parts.push(`action is ${JSON.stringify(f.action)}`);
  if (f.outcome) parts.push(`outcome is ${JSON.stringify(f.outcome)}`);
  if (f.object) parts.push(`object starts with ${JSON.stringify(f.object)}`);
  if (f.sinceMs !== null && f.untilMs !== null) parts.push(`time from ${iso(f.sinceMs)} before ${iso(f.untilMs)}`);
  else if (f.sinceMs !== null) parts.push(`time from ${iso(f.sinceMs)}`);
  else if (f.untilMs !== null) parts.push(`time before ${iso(f.untilMs)}`);
  return parts.length === 0 ? "all entries" : parts.join("; ");
}
