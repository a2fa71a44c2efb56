import { render, screen, within } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";

import type { Identity } from "../../bindings";
import IdentityPanel from "./IdentityPanel.svelte";

const NOW = new Date("2026-05-01T12:00:00Z");

function show(notAfter: string, roles: Identity["roles"] = ["officer", "admin"]) {
  const identity: Identity = { name: "Alice Example", roles, fingerprint: "AB:CD:EF:01", notAfter };
  render(IdentityPanel, { props: { identity, now: NOW } });
  return screen.getByRole("region", { name: "Identity" });
}

describe("IdentityPanel", () => {
  it("shows name, roles, fingerprint and expiry", () => {
    const region = show("2027-01-01T00:00:00Z");
    expect(within(region).getByRole("heading", { name: "Alice Example" }), "the person's name heads the panel").toBeVisible();
    const roles = within(region).getByRole("list", { name: "Roles" });
    expect(
      within(roles).getAllByRole("listitem").map((li) => li.textContent),
      "one chip per role, as the server sent them",
    ).toEqual(["officer", "admin"]);
    expect(within(region).getByText("AB:CD:EF:01").tagName, "fingerprint in monospace code").toBe("CODE");
    expect(within(region).getByRole("button", { name: "Copy certificate fingerprint" }), "copyable").toBeVisible();
    const time = region.querySelector("time");
    expect(time, "expiry carries the UTC instant as its tooltip").toHaveAttribute("title", "2027-01-01T00:00:00Z");
    expect(time, "and as machine-readable datetime").toHaveAttribute("datetime", "2027-01-01T00:00:00Z");
  });

  it("warns when the certificate expires within 14 days", () => {
    const region = show("2026-05-06T12:00:00Z");
    expect(within(region).getByText("Your certificate expires in 5 days"), "5 days left must warn").toBeVisible();
    expect(region.querySelector("[data-expiry]"), "expiry state is exposed").toHaveAttribute("data-expiry", "expiring");
  });

  it("does not warn when expiry is further away", () => {
    const region = show("2026-06-01T12:00:00Z");
    expect(within(region).queryByText(/Your certificate expires/), "31 days left is no cause for alarm").toBeNull();
    expect(region.querySelector("[data-expiry]"), "expiry state is exposed").toHaveAttribute("data-expiry", "valid");
  });

  it("says so when the certificate has already expired", () => {
    const region = show("2026-04-30T00:00:00Z");
    expect(within(region).getByText("Your certificate has expired"), "an expired certificate is flagged").toBeVisible();
  });

  it("says when no role is assigned instead of showing an empty list", () => {
    const region = show("2027-01-01T00:00:00Z", []);
    expect(within(region).queryByRole("list", { name: "Roles" }), "no empty list").toBeNull();
    expect(within(region).getByText("No roles assigned"), "the absence is stated").toBeVisible();
  });
});
