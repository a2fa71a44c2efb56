import { describe, expect, it } from "vitest";

import { NO_FILTER } from "./filter";
import { autoBucket, buildChart, colourOf, MAX_BUCKETS } from "./timeline";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.parse("2026-05-01T00:00:00Z");

describe("autoBucket", () => {
  const facets = { actors: [], actions: [], outcomes: [], firstMs: T0, lastMs: T0 + 3 * DAY };

  it("uses hours for short spans and days beyond 14 days", () => {
    expect(autoBucket(NO_FILTER, facets)).toBe("hour");
    expect(autoBucket(NO_FILTER, { ...facets, lastMs: T0 + 15 * DAY })).toBe("day");
    expect(autoBucket({ ...NO_FILTER, sinceMs: T0, untilMs: T0 + 20 * DAY }, facets), "the filter's range wins").toBe(
      "day",
    );
    expect(autoBucket(NO_FILTER, null), "unknown span").toBe("hour");
  });
});

describe("buildChart", () => {
  it("stacks actions per bucket in a stable order on a linear time axis", () => {
    const chart = buildChart(
      [
        { startMs: T0, action: "b", count: 2 },
        { startMs: T0, action: "a", count: 3 },
        { startMs: T0 + 3 * HOUR, action: "a", count: 1 },
      ],
      "hour",
      ["a", "b"],
    );
    expect(chart?.slots, "empty hours keep their place").toBe(4);
    expect(chart?.columns.map((c) => c.slot)).toEqual([0, 3]);
    expect(chart?.columns[0]?.segments).toEqual([
      { action: "a", count: 3, below: 0 },
      { action: "b", count: 2, below: 3 },
    ]);
    expect(chart?.max).toBe(5);
    expect(chart?.entries).toBe(6);
    expect(chart?.droppedBuckets).toBe(0);
  });

  it("keeps only the most recent buckets and counts what it left out", () => {
    const bars = Array.from({ length: MAX_BUCKETS + 50 }, (_, i) => ({ startMs: T0 + i * DAY, action: "a", count: 2 }));
    const chart = buildChart(bars, "day", ["a"]);
    expect(chart?.columns).toHaveLength(MAX_BUCKETS);
    expect(chart?.columns[0]?.startMs, "the oldest drawn").toBe(T0 + 50 * DAY);
    expect(chart?.droppedBuckets).toBe(50);
    expect(chart?.droppedEntries).toBe(100);
  });

  it("is empty when nothing has a time", () => {
    expect(buildChart([], "hour", [])).toBeNull();
    expect(buildChart([{ startMs: null, action: "a", count: 4 }], "hour", [])).toBeNull();
  });
});

describe("colourOf", () => {
  it("gives each listed action its own colour, the same whatever the filter", () => {
    const actions = ["a", "b", "c"];
    expect(new Set(actions.map((a) => colourOf(a, actions))).size).toBe(3);
    expect(colourOf("b", actions)).toBe(colourOf("b", actions));
    expect(colourOf("unlisted", actions), "unlisted actions still get a colour").toMatch(/^#/);
  });
});
