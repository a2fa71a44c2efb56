import { describe, expect, it } from "vitest";

import { layout, MAX_SPACER, OVERSCAN, ROW_HEIGHT, scrollToRow } from "./virtual";

describe("virtual layout", () => {
  it("uses the true height when it fits", () => {
    const l = layout(1000, 560, 0);
    expect(l.spacer).toBe(1000 * ROW_HEIGHT);
    expect(l.ratio).toBe(1);
    expect(l.start).toBe(0);
    expect(l.end, "visible rows plus overscan").toBe(20 + 1 + OVERSCAN);
  });

  it("scales a million rows into the maximum spacer and still reaches both ends", () => {
    const total = 1_000_000;
    const top = layout(total, 560, 0);
    expect(top.spacer).toBe(MAX_SPACER);
    expect(top.ratio).toBeGreaterThan(1.8);
    expect(top.firstVisible).toBe(0);

    const bottom = layout(total, 560, MAX_SPACER - 560);
    expect(bottom.end, "the last row is rendered").toBe(total);
    // The last row's bottom edge is the spacer's bottom edge.
    expect(bottom.top + (total - 1 - bottom.start) * ROW_HEIGHT + ROW_HEIGHT).toBeCloseTo(MAX_SPACER, 3);

    const beyond = layout(total, 560, MAX_SPACER * 2);
    expect(beyond.scrollTop, "an overscrolled position is clamped").toBe(MAX_SPACER - 560);
  });

  it("places the first visible row at the top of the viewport whatever the ratio", () => {
    const total = 1_000_000;
    for (const scrollTop of [1, 1234, 7_000_000, 14_000_000]) {
      const l = layout(total, 560, scrollTop);
      const firstTop = l.top + (l.firstVisible - l.start) * ROW_HEIGHT;
      expect(firstTop, `row at the viewport top for scrollTop ${scrollTop}`).toBeLessThanOrEqual(l.scrollTop);
      expect(firstTop + ROW_HEIGHT).toBeGreaterThan(l.scrollTop);
    }
  });

  it("scrolls the least needed to show a row, scaled", () => {
    expect(scrollToRow(5, 1000, 560, 0), "already visible: no move").toBe(0);
    expect(scrollToRow(30, 1000, 560, 0), "just below: align its bottom").toBe(31 * ROW_HEIGHT - 560);
    expect(scrollToRow(3, 1000, 560, 500), "above: align its top").toBe(3 * ROW_HEIGHT);

    const total = 1_000_000;
    const top = scrollToRow(total - 1, total, 560, 0);
    expect(top, "End reaches the bottom of the spacer").toBe(MAX_SPACER - 560);
    const middle = scrollToRow(500_000, total, 560, 0);
    const l = layout(total, 560, middle);
    expect(l.firstVisible <= 500_000 && 500_000 < l.firstVisible + l.visibleCount, "row 500,000 in view").toBe(true);
  });
});
