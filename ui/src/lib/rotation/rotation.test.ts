import { describe, expect, it } from "vitest";

import { rotationOverview } from "../../testing/fixtures";
import { afterText, current, problem } from "./rotation";

const overview = rotationOverview;

describe("the rotation wizard's arithmetic", () => {
  it("reads who holds a key now and its threshold", () => {
    expect(current(overview, "supply")).toEqual({ holders: ["alice", "bob", "carol"], threshold: 2 });
    expect(current(overview, "admin")).toBeNull();
  });

  it("names the holders who bring a staged key", () => {
    expect(afterText(2, ["alice", "bob", "carol"], overview)).toBe("2 of alice (new key), bob, carol");
    expect(afterText(1, ["dave"], overview)).toBe("1 of dave");
  });

  it("refuses thresholds no set of holders could meet, and an empty key", () => {
    expect(problem(2, ["alice", "bob"])).toBeNull();
    expect(problem(3, ["alice", "bob"])).toContain("between 1 and 2");
    expect(problem(0, ["alice"])).toContain("between 1 and 1");
    expect(problem(1, [])).toBe("Choose who holds the new key.");
    const unstaged = { ...overview, staged: [] };
    expect(problem(2, ["alice", "bob", "carol"], unstaged, "supply")).toContain("the key as it is");
    expect(problem(2, ["alice", "bob", "carol"], overview, "supply"), "alice brings a new key").toBeNull();
    expect(problem(3, ["alice", "bob", "carol"], unstaged, "supply"), "a new threshold").toBeNull();
  });
});
