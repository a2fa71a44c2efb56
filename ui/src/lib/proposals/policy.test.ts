import { render, screen, within } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";

import type { PolicyChangeView } from "../../bindings";
import { proposalSummary } from "../../testing/fixtures";
import PolicyChange from "./PolicyChange.svelte";
import { KIND_LABELS, summary } from "./queue";
import SignerProgress from "./SignerProgress.svelte";

function change(over: Partial<PolicyChangeView> = {}): PolicyChangeView {
  return {
    version: 2,
    replaces: 1,
    rules: [
      { label: "mint", value: "3 of alice, bob, carol, dave" },
      { label: "policy", value: "2 of alice, bob, carol, dave" },
    ],
    changes: [{ label: "mint", value: "2 of alice, bob, carol, dave -> 3 of alice, bob, carol, dave" }],
    committed: true,
    error: null,
    ...over,
  };
}

describe("a policy change", () => {
  it("shows what changes, every rule, and that the bytes commit to exactly this document", () => {
    render(PolicyChange, { policy: change() });
    expect(screen.getByRole("heading", { name: "Policy version 2, replacing version 1" })).toBeTruthy();
    expect(screen.getByTestId("policy-committed").textContent).toContain("will anchor exactly these rules");
    const changes = within(screen.getByTestId("policy-changes"));
    expect(changes.getByText("2 of alice, bob, carol, dave -> 3 of alice, bob, carol, dave")).toBeTruthy();
    const rules = within(screen.getByTestId("policy-rules"));
    expect(rules.getByText("3 of alice, bob, carol, dave")).toBeTruthy();
    expect(rules.getByText("2 of alice, bob, carol, dave")).toBeTruthy();
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("says do not sign when the token memo commits to another document", () => {
    render(PolicyChange, { policy: change({ committed: false }) });
    expect(screen.getByRole("alert").textContent).toContain("do not sign");
    expect(screen.queryByTestId("policy-committed")).toBeNull();
  });

  it("shows an unreadable document as a problem, not as rules", () => {
    render(PolicyChange, { policy: change({ version: null, rules: [], changes: [], error: "not a policy document" }) });
    expect(screen.getByRole("alert").textContent).toContain("not a policy document");
    expect(screen.queryByTestId("policy-rules")).toBeNull();
  });

  it("is named in the queue by what it does", () => {
    const p = proposalSummary({ id: "p", kind: "policy", payload: { kind: "policy", token: "0.0.1001", replaces: 1 } });
    expect(summary(p)).toBe("Change the approval policy of 0.0.1001 (replaces version 1)");
    expect(KIND_LABELS.policy).toBe("Policy change");
  });
});

describe("signer progress under a policy above the token's key", () => {
  it("marks an approval the server counted but did not send to the ledger as an endorsement", () => {
    const p = proposalSummary({
      id: "p",
      threshold: 3,
      approvals: [
        { officer: "bob", at: "2099-01-01T11:00:00Z", device: "SoftHSM v2 1", transactionId: "0.0.2@1.0", relayed: false },
        { officer: "carol", at: "2099-01-01T11:05:00Z", device: "YubiKey 5.7.1 2", transactionId: "0.0.2@2.0", relayed: true },
      ],
    });
    render(SignerProgress, { proposal: p, me: "dave" });
    const rows = screen.getAllByTestId("signer-approved");
    expect(rows).toHaveLength(2);
    const [endorsed, relayed] = rows as [HTMLElement, HTMLElement];
    expect(within(endorsed).getByTestId("signer-endorsement").textContent).toMatch(/did not send it\s+to the ledger/);
    expect(within(relayed).queryByTestId("signer-endorsement")).toBeNull();
    expect(relayed.textContent).toContain("0.0.2@2.0");
    expect(screen.getByRole("heading", { name: "Approvals: 2 of 3 needed" })).toBeTruthy();
  });
});
