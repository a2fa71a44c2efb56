// The timeline chart's data: stacked columns per bucket, capped to the most recent buckets. Pure functions.
import type { AuditFacets, AuditFilter, TimelineBar, TimelineBucket } from "../../bindings";
import { BUCKET_MS } from "./format";

/** Most buckets drawn; older ones are left out and the chart says so. */
export const MAX_BUCKETS = 200;
/** Spans longer than this are drawn per day when the granularity is automatic. */
export const AUTO_DAY_SPAN_MS = 14 * BUCKET_MS.day;

/** Per day when the time range in view (the filter's, else the cache's) is longer than 14 days. */
export function autoBucket(filter: AuditFilter, facets: AuditFacets | null): TimelineBucket {
  const from = filter.sinceMs ?? facets?.firstMs ?? null;
  const to = filter.untilMs ?? facets?.lastMs ?? null;
  if (from === null || to === null) return "hour";
  return to - from > AUTO_DAY_SPAN_MS ? "day" : "hour";
}

export type Segment = { action: string; count: number; /** entries below this one in the column */ below: number };
export type Column = { startMs: number; slot: number; total: number; segments: Segment[] };

export type Chart = {
  bucket: TimelineBucket;
  columns: Column[];
  /** Bucket slots on the time axis (empty buckets included). */
  slots: number;
  firstMs: number;
  lastMs: number;
  /** Highest column. */
  max: number;
  /** Entries in the drawn columns. */
  entries: number;
  /** Non-empty buckets older than the drawn range, and their entries. */
  droppedBuckets: number;
  droppedEntries: number;
};

/**
 * Stacks the bars (oldest first, as Rust sends them) into columns on a linear time axis covering at most the
 * most recent MAX_BUCKETS buckets. Segments keep the order of `actions` so colours stack the same way in each.
 */
export function buildChart(bars: TimelineBar[], bucket: TimelineBucket, actions: string[]): Chart | null {
  const size = BUCKET_MS[bucket];
  const valid = bars.filter((b) => b.startMs !== null && (b.count ?? 0) > 0) as (TimelineBar & { startMs: number })[];
  if (valid.length === 0) return null;
  const lastMs = Math.max(...valid.map((b) => b.startMs));
  const earliest = Math.min(...valid.map((b) => b.startMs));
  const firstMs = Math.max(earliest, lastMs - (MAX_BUCKETS - 1) * size);
  const order = new Map(actions.map((a, i) => [a, i]));
  const byStart = new Map<number, Column>();
  let droppedEntries = 0;
  const dropped = new Set<number>();
  for (const bar of valid) {
    const count = bar.count ?? 0;
    if (bar.startMs < firstMs) {
      droppedEntries += count;
      dropped.add(bar.startMs);
      continue;
    }
    let column = byStart.get(bar.startMs);
    if (!column) {
      column = { startMs: bar.startMs, slot: Math.round((bar.startMs - firstMs) / size), total: 0, segments: [] };
      byStart.set(bar.startMs, column);
    }
    column.segments.push({ action: bar.action, count, below: 0 });
    column.total += count;
  }
  const columns = [...byStart.values()].sort((a, b) => a.startMs - b.startMs);
  const rank = (a: string): number => order.get(a) ?? Number.MAX_SAFE_INTEGER;
  for (const column of columns) {
    column.segments.sort((a, b) => rank(a.action) - rank(b.action) || a.action.localeCompare(b.action));
    let below = 0;
    for (const segment of column.segments) {
      segment.below = below;
      below += segment.count;
    }
  }
  return {
    bucket,
    columns,
    slots: Math.round((lastMs - firstMs) / size) + 1,
    firstMs,
    lastMs,
    max: Math.max(...columns.map((c) => c.total)),
    entries: columns.reduce((n, c) => n + c.total, 0),
    droppedBuckets: dropped.size,
    droppedEntries,
  };
}

/** Colours for actions, distinguishable on the dark surface; repeats after ten (the legend names each). */
export const ACTION_COLOURS = [
  "#6cb6ff",
  "#f2a900",
  "#3fb950",
  "#ff7b72",
  "#d2a8ff",
  "#56d4dd",
  "#ffa657",
  "#f778ba",
  "#a5d6ff",
  "#c9d1d9",
];

/** A stable colour per action: by its place in the facet list, so filtering does not repaint the chart. */
export function colourOf(action: string, actions: string[]): string {
  const i = actions.indexOf(action);
  const index = i >= 0 ? i : [...action].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7);
  return ACTION_COLOURS[index % ACTION_COLOURS.length] ?? "#6cb6ff";
}
