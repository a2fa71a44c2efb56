import { render, screen, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("../../bindings", () => import("../../testing/mock-bindings"));

import { commands, type IpcError, type PolicyView } from "../../bindings";
import { failed, MIRROR, ok, proposalSummary } from "../../testing/fixtures";
import { ruleProblems } from "./policy";
import PolicyDialog from "./PolicyDialog.svelte";

const mocked = vi.mocked(commands);

function policy(over: Partial<PolicyView> = {}): PolicyView {
  return {
    version: 1,
    proposal: "p0",
    appliedAt: "2099-01-01T09:00:00Z",
    token: "0.0.1001",
    keyHolders: ["alice", "bob", "carol", "dave"],
    keyThreshold: 2,
    rules: [
      { kind: "mint", threshold: 2, eligible: ["alice", "bob", "carol", "dave"] },
      { kind: "policy", threshold: 2, eligible: ["alice", "bob", "carol", "dave"] },
    ],
    sha256: "ab".repeat(32),
    anchor: { state: "matches", mirror: MIRROR },
    ...over,
  };
}

function show() {
  const user = userEvent.setup();
  const onproposed = vi.fn();
  const onclose = vi.fn();
  render(PolicyDialog, { props: { profile: "bob", onproposed, onclose } });
  return { user, onproposed, onclose };
}

beforeEach(() => {
  mocked.policyCurrent.mockResolvedValue(ok(policy()));
});

describe("the approval policy", () => {
  it("shows every rule and that the ledger anchors it", async () => {
    show();
    const anchor = await screen.findByTestId("policy-anchor");
    expect(mocked.policyCurrent).toHaveBeenCalledExactlyOnceWith("bob");
    expect(anchor).toHaveTextContent(`The token's memo at ${MIRROR} anchors this policy (version 1)`);
    const rules = screen.getByTestId("policy-rules-current");
    expect(within(rules).getByRole("row", { name: /Mints/ })).toHaveTextContent("2 of alice, bob, carol, dave");
    expect(within(rules).getByRole("row", { name: /Policy changes/ })).toHaveTextContent("2 of alice, bob, carol, dave");
  });

  it("says so, as an alarm, when the ledger anchors another policy", async () => {
    mocked.policyCurrent.mockResolvedValue(ok(policy({ anchor: { state: "differs", mirror: MIRROR, memo: "gatehouse policy sha256:00" } })));
    show();
    const anchor = await screen.findByTestId("policy-anchor");
    expect(anchor).toHaveAttribute("role", "alert");
    expect(anchor).toHaveTextContent("approve nothing under it");
  });

  it("proposes a rule only once it is one the ledger would carry out", async () => {
    const proposal = proposalSummary({ id: "pp", kind: "policy", payload: { kind: "policy", token: "0.0.1001", replaces: 1 } });
    mocked.policyPropose.mockResolvedValue(ok(proposal));
    const { user, onproposed } = show();
    const threshold = await screen.findByTestId("policy-threshold");
    expect(threshold, "the form starts from the mint rule in force").toHaveValue(2);
    await user.click(screen.getByTestId("policy-submit"));
    expect(screen.getByTestId("policy-problems")).toHaveTextContent("nothing would change");
    await user.clear(threshold);
    await user.type(threshold, "1");
    await user.click(screen.getByTestId("policy-submit"));
    expect(screen.getByTestId("policy-problems")).toHaveTextContent("need 2 signatures");
    expect(mocked.policyPropose, "nothing sent").not.toHaveBeenCalled();
    await user.clear(threshold);
    await user.type(threshold, "3");
    await user.click(screen.getByTestId("policy-submit"));
    expect(mocked.policyPropose).toHaveBeenCalledExactlyOnceWith("bob", "mint", 3, ["alice", "bob", "carol", "dave"]);
    await vi.waitFor(() => expect(onproposed).toHaveBeenCalledExactlyOnceWith(proposal));
  });

  it("keeps the form and shows the server's refusal", async () => {
    const conflict: IpcError = {
      code: "refused",
      message: "a policy change is open already; approve, reject or cancel it first",
      hint: "",
      detail: null,
      fingerprint: null,
      triesLeft: null,
    };
    mocked.policyPropose.mockResolvedValue(failed(conflict));
    const { user, onproposed } = show();
    const checks = await screen.findAllByTestId("policy-eligible");
    await user.click(checks[0]!);
    await user.click(screen.getByTestId("policy-submit"));
    expect(mocked.policyPropose).toHaveBeenCalledExactlyOnceWith("bob", "mint", 2, ["bob", "carol", "dave"]);
    expect(await screen.findByText(/a policy change is open already/)).toBeVisible();
    expect(onproposed).not.toHaveBeenCalled();
  });
});

describe("ruleProblems", () => {
  it("names a rule that could never be reached, or names nobody", () => {
    expect(ruleProblems(policy(), { kind: "mint", threshold: 3, eligible: ["alice", "bob"] })[0]).toMatch(/could never be reached/);
    expect(ruleProblems(policy(), { kind: "mint", threshold: 2, eligible: [] })[0]).toMatch(/Choose the officers/);
    expect(ruleProblems(policy(), { kind: "policy", threshold: 3, eligible: ["carol", "bob", "alice"] })).toEqual([]);
  });
});
