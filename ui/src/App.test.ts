import { render, screen, waitFor, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("./bindings", () => import("./testing/mock-bindings"));
vi.mock("./lib/proposals/events", () => import("./testing/mock-proposal-events"));

import App from "./App.svelte";
import { commands, type Connection, type IpcError } from "./bindings";
import type { Result } from "./lib/ipc";
import {
  alice,
  approvalsOf,
  auditFacets,
  auditOk,
  auditPageOf,
  bob,
  connectionFor,
  deviceError,
  failed,
  ok,
  proposalSummary,
  rotationOverview,
  timelineBars,
  unreachable,
  yubikey,
} from "./testing/fixtures";

const mocked = vi.mocked(commands);

/** A connect call that stays pending until the test settles it, to observe the "Connecting" screen. */
function pendingConnect(): (result: Result<Connection, IpcError>) => void {
  let settle: (result: Result<Connection, IpcError>) => void = () => {};
  mocked.connect.mockReturnValue(new Promise((resolve) => (settle = resolve)));
  return (result) => settle(result);
}

beforeEach(() => {
  mocked.startupProfile.mockResolvedValue(null);
  mocked.profileList.mockResolvedValue(ok([alice, bob]));
});

describe("start-up", () => {
  it("connects at once to the profile named at launch", async () => {
    mocked.startupProfile.mockResolvedValue("alice");
    const finish = pendingConnect();
    render(App);

    const status = await screen.findByRole("heading", { name: /Connecting/ });
    expect(status, "the person sees where and as whom they are connecting").toHaveTextContent(
      "Connecting to https://gatehouse.test:8443 as profile alice…",
    );
    expect(mocked.connect, "start-up must connect with the launch profile, without asking").toHaveBeenCalledWith(
      "alice",
      null,
    );
    expect(screen.queryByRole("list", { name: "Profiles" }), "no profile choice when one was given").toBeNull();

    finish(ok(connectionFor(alice)));
    const identity = await screen.findByRole("region", { name: "Identity" });
    expect(within(identity).getByRole("heading", { name: "Alice Example" }), "the connected identity is shown").toBeVisible();
    expect(screen.getByRole("status", { name: "Environment: production" }), "the production banner is up").toBeVisible();
    expect(screen.getByRole("button", { name: "Reconnect" }), "the primary action takes focus").toHaveFocus();
    expect(document.title, "the window title names environment and profile").toBe("Gatehouse · PRODUCTION · alice");
  });

  it("shows the profile list when no profile was named at launch", async () => {
    render(App);
    const list = await screen.findByRole("list", { name: "Profiles" });
    expect(within(list).getAllByRole("listitem"), "one row per saved profile").toHaveLength(2);
    expect(mocked.connect, "nothing connects until the person chooses").not.toHaveBeenCalled();
    expect(screen.getByRole("button", { name: "Connect with profile alice" }), "the first Connect is focused").toHaveFocus();
    expect(screen.getByRole("button", { name: "Remove profile bob-staging" }), "every row can be removed").toBeVisible();
    expect(screen.getByRole("button", { name: "Add profile" }), "more profiles can be added").toBeVisible();
  });

  it("shows first-run set-up when there is no profile", async () => {
    mocked.profileList.mockResolvedValue(ok([]));
    render(App);
    expect(
      await screen.findByRole("heading", { name: "Set up your first profile" }),
      "a new installation starts with the set-up form",
    ).toBeVisible();
    expect(screen.getByRole("button", { name: "Import profile file" }), "importing is offered too").toBeVisible();
    expect(screen.queryByRole("button", { name: "Cancel" }), "first run has nothing to go back to").toBeNull();
  });

  it("shows the error screen when the launch profile cannot connect, and tries again", async () => {
    mocked.startupProfile.mockResolvedValue("alice");
    mocked.connect.mockResolvedValue(failed(unreachable));
    const user = userEvent.setup();
    render(App);

    const alert = await screen.findByRole("alert");
    expect(alert, "the failure is identified by its code").toHaveAttribute("data-error-code", "unreachable");
    expect(within(alert).getByRole("heading", { level: 1 }), "title per code").toHaveTextContent("Server unreachable");

    const finish = pendingConnect();
    await user.click(screen.getByRole("button", { name: "Try again" }));
    expect(mocked.connect, "Try again repeats the same connection").toHaveBeenLastCalledWith("alice", null);
    finish(ok(connectionFor(alice)));
    expect(await screen.findByRole("region", { name: "Server" }), "the retry succeeded").toBeVisible();
  });
});

describe("navigation", () => {
  it("connects from the list and switches back to it", async () => {
    mocked.connect.mockResolvedValue(ok(connectionFor(bob)));
    const user = userEvent.setup();
    render(App);

    await user.click(await screen.findByRole("button", { name: "Connect with profile bob-staging" }));
    expect(mocked.connect, "the chosen profile is used").toHaveBeenCalledWith("bob-staging", null);
    expect(await screen.findByRole("status", { name: "Environment: staging" }), "staging banner").toBeVisible();

    await user.click(screen.getByRole("button", { name: "Switch profile" }));
    expect(await screen.findByRole("list", { name: "Profiles" }), "back to the profile choice").toBeVisible();
  });

  it("offers another profile from the error screen", async () => {
    mocked.connect.mockResolvedValue(failed(unreachable));
    const user = userEvent.setup();
    render(App);
    await user.click(await screen.findByRole("button", { name: "Connect with profile alice" }));
    await user.click(await screen.findByRole("button", { name: "Choose another profile" }));
    expect(await screen.findByRole("list", { name: "Profiles" }), "the list is one click away").toBeVisible();
  });

  it("shows a listing failure as an error screen rather than an empty list", async () => {
    const keyring: IpcError = {
      code: "secret_store",
      message: "The OS keyring is locked.",
      hint: "Unlock your keyring and try again.",
      detail: null,
      fingerprint: null,
      triesLeft: null,
    };
    mocked.profileList.mockResolvedValue(failed(keyring));
    render(App);
    const alert = await screen.findByRole("alert");
    expect(alert, "a keyring failure must not look like first run").toHaveAttribute("data-error-code", "secret_store");
    expect(alert, "title per code").toHaveTextContent("Keyring unavailable");
  });
});

describe("approvals navigation", () => {
  it("opens the queue of the connected profile and comes back without reconnecting", async () => {
    mocked.startupProfile.mockResolvedValue("alice");
    mocked.connect.mockResolvedValue(ok(connectionFor(alice)));
    mocked.proposalsList.mockResolvedValue(ok(approvalsOf([proposalSummary({ id: "p1" })])));
    const user = userEvent.setup();
    render(App);

    expect(await screen.findByTestId("rotation-open")).toBeVisible();
    await user.click(screen.getByTestId("approvals-open"));
    expect(await screen.findByRole("heading", { name: "Approvals", level: 1 })).toBeVisible();
    expect(mocked.proposalsList, "for the connected profile").toHaveBeenCalledWith("alice");
    expect(await screen.findByTestId("proposal-row")).toHaveAttribute("data-id", "p1");
    expect(screen.getByRole("status", { name: "Environment: production" }), "the environment stays in view").toBeVisible();
    expect(document.title).toBe("Gatehouse · Approvals · alice");

    await user.click(screen.getByTestId("approvals-back"));
    expect(await screen.findByRole("region", { name: "Identity" }), "back to the connection").toBeVisible();
    expect(mocked.connect, "going back does not reconnect").toHaveBeenCalledTimes(1);
  });
});

describe("key rotation wizard", () => {
  // The ledger's admin key is not the registry's: the wizard says so.
  const overview = {
    ...rotationOverview,
    keys: [
      ...rotationOverview.keys,
      {
        role: "admin",
        holders: "2 of alice, bob, carol",
        members: [],
        ledger: "2 of bob, carol, mallory",
        agrees: false,
        proposal: "create",
        confirmedAt: null,
      },
    ],
  };

  it("shows the keys against the ledger, proposes the holders chosen, and comes back", async () => {
    mocked.startupProfile.mockResolvedValue("alice");
    mocked.connect.mockResolvedValue(ok(connectionFor(alice)));
    mocked.rotationOverview.mockResolvedValue(ok(overview));
    mocked.rotationPropose.mockResolvedValue(
      ok(proposalSummary({ id: "rot1", kind: "rotation", payload: { kind: "rotation", token: "0.0.1003", role: "supply", now: "2 of alice, bob, carol", after: "2 of alice (new key), bob, dave" } })),
    );
    const user = userEvent.setup();
    render(App);

    await user.click(await screen.findByTestId("rotation-open"));
    expect(await screen.findByRole("heading", { name: "Key rotation", level: 1 })).toBeVisible();
    expect(document.title).toBe("Gatehouse · Key rotation · alice");
    const supply = within(screen.getByTestId("rotation-keys")).getAllByRole("row")[1]!;
    expect(supply).toHaveTextContent("✓ the same key");
    expect(screen.getByRole("alert", { name: "" })).toHaveTextContent("the ledger holds another key");
    expect(screen.getByTestId("rotation-staged")).toHaveTextContent("dd (self-reported evidence, alice-ledger)");
    expect(screen.getByTestId("rotation-after")).toHaveTextContent("2 of alice (new key), bob, carol");
    expect(screen.queryByTestId("rotation-new-key-note"), "a supply rotation asks no new-key signature").toBeNull();

    // The treasury: the wizard says the new key signs too and the NFTs move; then back to the supply key.
    await user.click(screen.getByTestId("rotation-role-treasury"));
    expect(screen.getByTestId("rotation-new-key-note")).toHaveTextContent("only when the new key signs the change too");
    expect(screen.getByTestId("rotation-new-key-note")).toHaveTextContent("every NFT the old treasury holds moves to it");
    await user.click(screen.getByTestId("rotation-role-supply"));

    // Carol out, dave in; a threshold above the holders is caught before anything is sent.
    await user.click(screen.getByTestId("rotation-holder-carol"));
    await user.click(screen.getByTestId("rotation-holder-dave"));
    await user.clear(screen.getByTestId("rotation-threshold"));
    await user.type(screen.getByTestId("rotation-threshold"), "4");
    expect(screen.getByTestId("rotation-choice-problem")).toHaveTextContent("between 1 and 3");
    expect(screen.getByTestId("rotation-propose")).toBeDisabled();
    await user.clear(screen.getByTestId("rotation-threshold"));
    await user.type(screen.getByTestId("rotation-threshold"), "2");
    expect(screen.getByTestId("rotation-after")).toHaveTextContent("2 of alice (new key), bob, dave");
    await user.click(screen.getByTestId("rotation-propose"));
    expect(mocked.rotationPropose).toHaveBeenCalledWith("alice", "supply", 2, ["alice", "bob", "dave"]);
    await waitFor(() => expect(screen.getByRole("heading", { name: /Approvals, the ledger, the mirror/ })).toHaveFocus());

    await user.click(screen.getByTestId("rotation-back"));
    expect(await screen.findByRole("region", { name: "Identity" }), "back to the connection").toBeVisible();
  });

  it("warns before offboarding an officer a key cannot do without, and proposes one it can", async () => {
    const withPause = {
      ...overview,
      keys: [
        ...overview.keys,
        {
          role: "pause",
          holders: "1 of carol",
          members: [{ label: "carol", value: "cc" }],
          ledger: "1 of carol",
          agrees: true,
          proposal: "create",
          confirmedAt: null,
        },
      ],
    };
    mocked.startupProfile.mockResolvedValue("alice");
    mocked.connect.mockResolvedValue(ok(connectionFor(alice)));
    mocked.rotationOverview.mockResolvedValue(ok(withPause));
    const leaves = proposalSummary({
      id: "off1",
      kind: "offboarding",
      payload: { kind: "offboarding", token: "0.0.1003", officer: "bob", reason: "left the company" },
    });
    mocked.rotationOffboard.mockResolvedValue(ok(leaves));
    const user = userEvent.setup();
    render(App);
    await user.click(await screen.findByTestId("rotation-open"));
    const officer = await screen.findByTestId("offboard-officer");
    expect(within(officer).queryByRole("option", { name: "alice" }), "alice does not offboard herself").toBeNull();

    await user.selectOptions(officer, "carol");
    await user.type(screen.getByTestId("offboard-reason"), "leaves");
    expect(screen.getByTestId("offboard-warning")).toHaveTextContent(
      "The pause key needs 1 signature(s) and only 0 holder(s) would remain: rotate it to other holders first.",
    );
    expect(screen.getByTestId("offboard-propose"), "nothing is sent that the server must refuse").toBeDisabled();

    await user.selectOptions(officer, "bob");
    expect(screen.queryByTestId("offboard-warning"), "the supply key keeps 2 of alice, carol").toBeNull();
    await user.clear(screen.getByTestId("offboard-reason"));
    expect(screen.getByTestId("offboard-propose"), "a reason is asked for").toBeDisabled();
    await user.type(screen.getByTestId("offboard-reason"), "  left the company ");
    mocked.rotationOverview.mockResolvedValue(ok({ ...withPause, rotation: leaves }));
    await user.click(screen.getByTestId("offboard-propose"));
    expect(mocked.rotationOffboard).toHaveBeenCalledExactlyOnceWith("alice", "bob", "left the company");
    expect(await screen.findByTestId("rotation-offboarding")).toHaveTextContent("bob leaves every key and rule: left the company");
    await waitFor(() => expect(screen.getByRole("heading", { name: /Approvals, the ledger, the mirror/ })).toHaveFocus());
  });
  it("onboards a registered officer with a staged key into the keys chosen, one proposal", async () => {
    const withHana = {
      ...overview,
      staged: [...overview.staged, { officer: "hana", publicKey: "ee", evidence: "attested", device: "YubiKey 5 serial 7" }],
      people: [...overview.people, "hana"],
    };
    mocked.startupProfile.mockResolvedValue("alice");
    mocked.connect.mockResolvedValue(ok(connectionFor(alice)));
    mocked.rotationOverview.mockResolvedValue(ok(withHana));
    const joins = proposalSummary({
      id: "on1",
      kind: "onboarding",
      payload: {
        kind: "onboarding",
        token: "0.0.1003",
        officer: "hana",
        reason: "joins the signing team",
        keys: ["supply"],
        certificate: "ab12",
      },
    });
    mocked.rotationOnboard.mockResolvedValue(ok(joins));
    const user = userEvent.setup();
    render(App);
    await user.click(await screen.findByTestId("rotation-open"));
    const officer = await screen.findByTestId("onboard-officer");
    expect(screen.getByTestId("onboard-propose"), "nobody chosen yet").toBeDisabled();

    await user.selectOptions(officer, "bob");
    expect(screen.getByTestId("onboard-key-supply"), "bob holds the supply key already").toBeDisabled();
    expect(screen.getByTestId("onboard-key-supply").closest("label")).toHaveTextContent("supply (holds it already)");

    await user.selectOptions(officer, "hana");
    expect(screen.getByTestId("onboard-key")).toHaveTextContent("Their key: ee (attested evidence, YubiKey 5 serial 7)");
    const supply = screen.getByTestId("onboard-key-supply");
    expect(supply, "every key she does not hold is chosen to start").toBeChecked();
    expect(supply.closest("label")).toHaveTextContent("supply: 2 of alice, bob, carol → 2 of alice, bob, carol, hana");
    expect(screen.getByTestId("onboard-certificate")).toHaveTextContent("gatehouse rotate officer --add NAME");
    expect(screen.getByTestId("onboard-propose"), "a reason is asked for").toBeDisabled();
    await user.type(screen.getByTestId("onboard-reason"), " joins the signing team ");
    mocked.rotationOverview.mockResolvedValue(ok({ ...withHana, rotation: joins }));
    await user.click(screen.getByTestId("onboard-propose"));
    expect(mocked.rotationOnboard).toHaveBeenCalledExactlyOnceWith("alice", "hana", ["admin", "supply"], "joins the signing team");
    expect(await screen.findByTestId("rotation-onboarding")).toHaveTextContent(
      "hana joins the supply key(s) and their rules: joins the signing team",
    );
    expect(screen.getByTestId("rotation-onboarding-certificate")).toHaveTextContent("SHA-256 ab12");
    await waitFor(() => expect(screen.getByRole("heading", { name: /Approvals, the ledger, the mirror/ })).toHaveFocus());
  });

  it("onboards me with my TLS certificate moved onto my device: key and request made there, a new profile keeps it", async () => {
    // Hana is registered (no say yet) and her own console proposes her onboarding.
    const asHana = {
      ...overview,
      me: "hana",
      staged: [...overview.staged, { officer: "hana", publicKey: "ee", evidence: "attested", device: "YubiKey 5 serial 7" }],
      people: [...overview.people, "hana"],
    };
    mocked.startupProfile.mockResolvedValue("alice");
    mocked.connect.mockResolvedValue(ok(connectionFor(alice)));
    mocked.rotationOverview.mockResolvedValue(ok(asHana));
    mocked.deviceScan.mockResolvedValue(ok({ devices: [yubikey], problems: [] }));
    const joins = proposalSummary({
      id: "on2",
      kind: "onboarding",
      proposer: "hana",
      payload: { kind: "onboarding", token: "0.0.1003", officer: "hana", reason: "joins", keys: ["supply"], certificate: "cd34" },
    });
    const user = userEvent.setup();
    render(App);
    await user.click(await screen.findByTestId("rotation-open"));
    await user.selectOptions(await screen.findByTestId("onboard-officer"), "bob");
    expect(screen.queryByTestId("onboard-with-certificate"), "only my own onboarding carries my device's request").toBeNull();
    expect(screen.getByTestId("onboard-certificate")).toHaveTextContent("they propose their onboarding themselves");

    await user.selectOptions(screen.getByTestId("onboard-officer"), "hana");
    expect(screen.getByTestId("onboard-with-certificate"), "on by default").toBeChecked();
    await user.type(screen.getByTestId("onboard-reason"), "joins");
    expect(screen.getByTestId("onboard-propose")).toHaveTextContent("Choose my device…");
    await user.click(screen.getByTestId("onboard-propose"));
    expect(mocked.rotationOnboard, "nothing is proposed before the device made the request").not.toHaveBeenCalled();
    expect(screen.getByTestId("onboard-profile")).toHaveValue("alice-device");
    const deviceForm = (await screen.findByTestId("onboard-device-pin")).closest("form")!;
    expect(deviceForm.closest("[data-testid='onboard-form']"), "no form inside the onboarding form").toBeNull();
    await within(deviceForm).findByRole("radio", { checked: true });

    // A wrong PIN: said in the form, which stays open for the next try.
    mocked.rotationJoin.mockResolvedValueOnce(failed(deviceError("device_pin_incorrect", "the PIN is wrong", 2)));
    await user.type(screen.getByTestId("onboard-device-pin"), "000000{Enter}");
    expect(await screen.findByTestId("onboard-device-error")).toHaveTextContent("the PIN is wrong");

    mocked.rotationJoin.mockResolvedValueOnce(
      ok({ proposal: joins, profile: { ...alice, name: "alice-device", keySource: "device: YubiKey (PIV) serial 7, key 9a" }, fingerprint: "cd34" }),
    );
    mocked.rotationOverview.mockResolvedValue(ok({ ...asHana, rotation: joins }));
    await user.clear(screen.getByTestId("onboard-device-pin"));
    await user.type(screen.getByTestId("onboard-device-pin"), "123456{Enter}");
    expect(await screen.findByTestId("onboard-joined")).toHaveTextContent(
      "Profile alice-device holds your new certificate (SHA-256 cd34), its key on your device. It gets you in once the quorum approves the onboarding",
    );
    expect(mocked.rotationJoin).toHaveBeenLastCalledWith("alice", ["admin", "supply"], "joins", yubikey.id, "123456", "alice-device");
    expect(screen.queryByTestId("onboard-device-pin"), "the device form closes").toBeNull();
    expect(await screen.findByTestId("rotation-onboarding")).toHaveTextContent("hana joins the supply key(s)");

    // Executed, the registry revokes this profile's certificate: the wizard says which profile to connect with.
    mocked.rotationOverview.mockResolvedValue(failed(deviceError("not_registered", "this certificate is not registered")));
    await user.click(screen.getByTestId("rotation-refresh"));
    expect(await screen.findByTestId("onboard-switch")).toHaveTextContent(
      "Your onboarding has executed: the server no longer takes this profile's certificate, it was replaced. Connect with profile alice-device",
    );
    expect(screen.queryByTestId("rotation-error")).toBeNull();
  });
});

describe("audit explorer navigation", () => {
  beforeEach(() => {
    mocked.auditStatus.mockResolvedValue(ok(auditOk));
    mocked.auditFacets.mockResolvedValue(ok(auditFacets));
    mocked.auditTimeline.mockResolvedValue(ok(timelineBars));
    mocked.auditPage.mockImplementation(async (_p, _f, offset, limit) => ok(auditPageOf(120, offset, limit)));
  });

  it("opens online from the connection view and comes back without reconnecting", async () => {
    mocked.startupProfile.mockResolvedValue("alice");
    mocked.connect.mockResolvedValue(ok(connectionFor(alice)));
    const user = userEvent.setup();
    render(App);

    const open = await screen.findByTestId("audit-open");
    expect(open, "clearly labelled").toHaveTextContent("Audit trail");
    await user.click(open);
    expect(await screen.findByRole("heading", { name: "Audit trail", level: 1 }), "the explorer").toBeVisible();
    expect(mocked.auditStatus, "for the connected profile").toHaveBeenCalledWith("alice");
    expect(screen.getByTestId("audit-sync"), "online: sync is offered").toBeEnabled();
    expect(screen.getByRole("status", { name: "Environment: production" }), "the environment stays in view").toBeVisible();
    expect(document.title).toBe("Gatehouse · Audit trail · alice");
    await waitFor(() => expect(screen.getByTestId("audit-total")).toHaveAttribute("data-total", "120"));

    await user.click(screen.getByTestId("audit-back"));
    expect(await screen.findByRole("region", { name: "Identity" }), "back to the connection").toBeVisible();
    expect(mocked.connect, "going back does not reconnect").toHaveBeenCalledTimes(1);
  });

  it("goes back with Escape", async () => {
    mocked.startupProfile.mockResolvedValue("alice");
    mocked.connect.mockResolvedValue(ok(connectionFor(alice)));
    const user = userEvent.setup();
    render(App);
    await user.click(await screen.findByTestId("audit-open"));
    await screen.findByTestId("audit-table");
    await user.keyboard("{Escape}");
    expect(await screen.findByRole("region", { name: "Identity" }), "Escape leaves the explorer").toBeVisible();
  });

  it("opens offline from the error screen when the server is unreachable, and returns to it", async () => {
    mocked.startupProfile.mockResolvedValue("alice");
    mocked.connect.mockResolvedValue(failed(unreachable));
    const user = userEvent.setup();
    render(App);

    await user.click(await screen.findByTestId("audit-open-offline"));
    expect(await screen.findByTestId("audit-offline"), "offline notice").toHaveTextContent(
      "Offline: showing the local cache",
    );
    expect(screen.getByTestId("audit-sync"), "no sync offline").toBeDisabled();
    expect(mocked.auditStatus, "the cache of the profile that failed").toHaveBeenCalledWith("alice");
    await waitFor(() => expect(screen.getByTestId("audit-total")).toHaveAttribute("data-total", "120"));
    expect(document.title).toBe("Gatehouse · Audit trail · alice (offline)");

    await user.click(screen.getByTestId("audit-back"));
    const alert = await screen.findByRole("alert");
    expect(alert, "back on the error screen").toHaveAttribute("data-error-code", "unreachable");
    mocked.connect.mockResolvedValue(ok(connectionFor(alice)));
    await user.click(screen.getByRole("button", { name: "Try again" }));
    expect(await screen.findByRole("region", { name: "Identity" }), "Try again still repeats the connect").toBeVisible();
  });

  it("opens a profile's cache offline from the profile list", async () => {
    const user = userEvent.setup();
    render(App);
    await screen.findByRole("list", { name: "Profiles" });
    const offline = screen.getAllByTestId("audit-open-offline");
    expect(offline, "one per profile").toHaveLength(2);
    await user.click(
      screen.getByRole("button", { name: "Open the audit trail of profile bob-staging offline, from the local cache" }),
    );
    await screen.findByTestId("audit-offline");
    expect(mocked.auditStatus).toHaveBeenCalledWith("bob-staging");
    expect(mocked.connect, "no connection attempted").not.toHaveBeenCalled();
    expect(screen.getByRole("status", { name: "Environment: staging" }), "its environment").toBeVisible();
    await user.click(screen.getByTestId("audit-back"));
    expect(await screen.findByRole("list", { name: "Profiles" }), "back to the list").toBeVisible();
  });
});
