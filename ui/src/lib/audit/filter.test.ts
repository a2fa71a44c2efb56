import { describe, expect, it } from "vitest";

import { describeFilter, emptyDraft, isEmptyFilter, NO_FILTER, sameFilter, toFilter } from "./filter";

describe("toFilter", () => {
  it("sends nothing for empty inputs", () => {
    expect(toFilter(emptyDraft())).toEqual(NO_FILTER);
    expect(isEmptyFilter(toFilter({ ...emptyDraft(), text: "   " })), "blank words do not filter").toBe(true);
  });

  it("normalises words and parses local times", () => {
    const f = toFilter({
      ...emptyDraft(),
      text: "  registry   disable ",
      object: " officer/ ",
      since: "2026-05-01T10:00",
      until: "not a date",
      outcome: "denied",
    });
    expect(f.text).toBe("registry disable");
    expect(f.object, "an object prefix is trimmed").toBe("officer/");
    expect(f.sinceMs).toBe(new Date(2026, 4, 1, 10, 0).getTime());
    expect(f.untilMs, "an invalid time does not filter").toBeNull();
    expect(f.outcome).toBe("denied");
  });

  it("compares filters by value", () => {
    expect(sameFilter(toFilter({ ...emptyDraft(), actor: "a" }), { ...NO_FILTER, actor: "a" })).toBe(true);
    expect(sameFilter(NO_FILTER, { ...NO_FILTER, text: "x" })).toBe(false);
  });
});

describe("describeFilter", () => {
  it("says all entries for no filter", () => {
    expect(describeFilter(NO_FILTER)).toBe("all entries");
  });

  it("names every part, times in UTC", () => {
    expect(
      describeFilter({
        text: "disable bob",
        actor: "erin",
        action: "registry.disable",
        outcome: "success",
        object: "officer/",
        sinceMs: Date.parse("2026-05-01T00:00:00Z"),
        untilMs: Date.parse("2026-05-02T00:00:00Z"),
      }),
    ).toBe(
      'words "disable bob"; actor is "erin"; action is "registry.disable"; outcome is "success"; ' +
        'object starts with "officer/"; time from 2026-05-01T00:00:00.000Z before 2026-05-02T00:00:00.000Z',
    );
  });
});
