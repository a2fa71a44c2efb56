import { render, screen, waitFor, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("../bindings", () => import("../testing/mock-bindings"));
vi.mock("../lib/proposals/events", () => import("../testing/mock-proposal-events"));

import { commands, type ProposalSummary } from "../bindings";
import { Gatehouse, gatehouseContext } from "../lib/gatehouse.svelte";
import {
  alice,
  approvalsOf,
  connectionFor,
  deviceError,
  detailOf,
  failed,
  METADATA_URI,
  ok,
  proposalSummary,
  reviewOf,
  SCHEDULED_FINGERPRINT,
  yubikey,
} from "../testing/fixtures";
import { emitProposalsChanged, listeners } from "../testing/mock-proposal-events";
import ApprovalsView from "./ApprovalsView.svelte";

const mocked = vi.mocked(commands);

const waiting = proposalSummary({ id: "p-soon", deadline: "2099-01-02T10:00:00Z" });
const waitingLater = proposalSummary({ id: "p-later", deadline: "2099-01-03T10:00:00Z" });
const carolSigned = {
  officer: "carol",
  at: "2099-01-01T11:00:00Z",
  device: "YubiKey 5.7.1 31000002",
  transactionId: "0.0.2@4070912400.000000000",
  relayed: true,
};
const others = proposalSummary({ id: "p-mine", proposer: "bob", waitsForMe: false, approvals: [carolSigned] });
const settled = proposalSummary({
  id: "p-done",
  status: "executed",
  deadline: "2098-12-01T10:00:00Z",
  waitsForMe: false,
  outcome: { status: "SUCCESS", at: "2098-11-30T10:00:00Z", serials: ["17"], token: null },
});

function list(proposals: ProposalSummary[] = [waitingLater, others, waiting, settled]) {
  mocked.proposalsList.mockResolvedValue(ok(approvalsOf(proposals)));
}

function show() {
  const gatehouse = new Gatehouse();
  const user = userEvent.setup();
  render(ApprovalsView, { props: { profile: "alice", summary: alice }, context: gatehouseContext(gatehouse) });
  return { user, gatehouse };
}

function rowsOf(group: string): HTMLElement[] {
  return within(screen.getByTestId(group)).queryAllByTestId("proposal-row");
}

async function openRow(user: ReturnType<typeof userEvent.setup>, id: string): Promise<HTMLElement> {
  const row = (await screen.findAllByTestId("proposal-row")).find((r) => r.dataset.id === id);
  if (!row) throw new Error(`no row for ${id}`);
  await user.click(row);
  return screen.findByTestId("proposal-detail");
}

beforeEach(() => {
  listeners.clear();
  list();
});

describe("the queue", () => {
  it("groups what waits for me, for others, and what is settled; the first proposal for me has focus", async () => {
    show();
    await screen.findAllByTestId("proposal-row");
    expect(rowsOf("queue-mine").map((r) => r.dataset.id), "nearest deadline first").toEqual(["p-soon", "p-later"]);
    expect(rowsOf("queue-others").map((r) => r.dataset.id)).toEqual(["p-mine"]);
    expect(rowsOf("queue-history").map((r) => r.dataset.id)).toEqual(["p-done"]);
    expect(within(screen.getByTestId("queue-mine")).getByRole("heading")).toHaveTextContent("Waiting for me (2)");

    const first = rowsOf("queue-mine")[0]!;
    expect(first, "the officer starts at what needs them").toHaveFocus();
    expect(first).toHaveTextContent("Mint 1 NFT of 0.0.1001");
    expect(first).toHaveTextContent("proposed by alice");
    expect(first).toHaveTextContent("0/2 approvals");
    expect(first).toHaveTextContent("Open");
    expect(first.querySelector("time")).toHaveAttribute("datetime", waiting.deadline);
    expect(rowsOf("queue-others")[0]).toHaveTextContent("1/2 approvals");
    expect(rowsOf("queue-history")[0]).toHaveTextContent("Executed");

    expect(screen.getByTestId("approvals-me")).toHaveTextContent("bob");
    expect(screen.getByTestId("approvals-mirror")).toHaveTextContent("https://mirror.gatehouse.test");
    expect(screen.queryByTestId("approvals-no-mirror")).toBeNull();
    expect(screen.getByRole("status", { name: "Environment: production" }), "the environment stays in sight").toBeVisible();
  });

  it("says nothing can be signed when the profile pins no mirror node, and how to pin one", async () => {
    mocked.proposalsList.mockResolvedValue(ok(approvalsOf([waiting], { mirror: null })));
    const { user } = show();
    const warning = await screen.findByTestId("approvals-no-mirror");
    expect(warning).toHaveTextContent("This profile pins no mirror node, so nothing can be signed");
    expect(warning).toHaveTextContent("gatehouse profile mirror alice https://…");
    mocked.proposalDetail.mockResolvedValue(ok(detailOf(waiting)));
    const detail = await openRow(user, "p-soon");
    await within(detail).findByTestId("decoded-fields");
    expect(within(detail).queryByTestId("proposal-sign"), "no signing without a mirror").toBeNull();
  });

  it("pins the mirror the officer types, says why a bad one is refused, and reads the queue again", async () => {
    mocked.proposalsList.mockResolvedValue(ok(approvalsOf([waiting], { mirror: null })));
    mocked.profilePinMirror.mockResolvedValueOnce(
      failed({
        code: "profile_invalid",
        message: 'mirror URL "http://mirror.example" must be https://host[:port]',
        hint: "Correct the URL.",
        detail: null,
        fingerprint: null,
        triesLeft: null,
      }),
    );
    const { user } = show();
    const url = await screen.findByTestId("mirror-url");
    await user.type(url, "http://mirror.example");
    await user.click(screen.getByTestId("mirror-pin"));
    expect(mocked.profilePinMirror).toHaveBeenLastCalledWith("alice", "http://mirror.example");
    expect(await screen.findByTestId("mirror-error")).toHaveTextContent("must be https://host[:port]");

    mocked.profilePinMirror.mockResolvedValueOnce(ok("https://mirror.example"));
    mocked.proposalsList.mockResolvedValue(ok(approvalsOf([waiting], { mirror: "https://mirror.example" })));
    await user.clear(url);
    await user.type(url, "https://mirror.example");
    await user.click(screen.getByTestId("mirror-pin"));
    expect(mocked.profilePinMirror).toHaveBeenLastCalledWith("alice", "https://mirror.example");
    await waitFor(() => expect(screen.queryByTestId("approvals-no-mirror")).toBeNull());
    expect(screen.getByTestId("approvals-mirror")).toHaveTextContent("https://mirror.example");
  });

  it("shows the server's alarms above the queue", async () => {
    mocked.proposalsList.mockResolvedValue(
      ok(
        approvalsOf([waiting], {
          alarms: [
            {
              id: "a1",
              kind: "unexplained-mint",
              subject: "0.0.1001 serial 18",
              message: "A mint the server did not schedule: pause the token and investigate.",
              raisedAt: "2099-01-01T09:00:00Z",
            },
          ],
        }),
      ),
    );
    show();
    const alarms = await screen.findByTestId("approvals-alarms");
    expect(alarms).toHaveAttribute("role", "alert");
    expect(alarms).toHaveTextContent("Unexplained mint");
    expect(alarms).toHaveTextContent("0.0.1001 serial 18");
    expect(alarms).toHaveTextContent("A mint the server did not schedule: pause the token and investigate.");
    expect(alarms.querySelector("time")).toHaveAttribute("datetime", "2099-01-01T09:00:00Z");
  });

  it("shows a failure to read the queue with what to do next", async () => {
    mocked.proposalsList.mockResolvedValue(failed(deviceError("unreachable", "No answer from gatehouse.test:8443.")));
    show();
    const error = await screen.findByTestId("approvals-error");
    expect(error).toHaveTextContent("Server unreachable");
    expect(error).toHaveTextContent("What to do next: What to do.");
  });

  it("reads the queue again when Rust says it changed, and says whether updates are live", async () => {
    show();
    await screen.findAllByTestId("proposal-row");
    expect(screen.getByTestId("approvals-updates")).toHaveTextContent("Live");
    mocked.proposalsList.mockResolvedValue(ok(approvalsOf([waiting], { live: false })));
    emitProposalsChanged({ profile: "alice", live: false });
    await waitFor(() => expect(rowsOf("queue-mine").map((r) => r.dataset.id)).toEqual(["p-soon"]));
    expect(screen.getByTestId("approvals-updates")).toHaveTextContent("Updates every 15 s (server events unavailable)");
  });
});

describe("a proposal in full", () => {
  it("shows the decoded transaction, the fingerprint, the NFTs with their CID check, and who signed", async () => {
    const carolApproved = proposalSummary({ id: "p-soon", approvals: [carolSigned] });
    mocked.proposalDetail.mockResolvedValue(ok(detailOf(carolApproved)));
    const { user } = show();
    const detail = await openRow(user, "p-soon");
    expect(mocked.proposalDetail).toHaveBeenCalledWith("alice", "p-soon");

    const fields = await within(detail).findByTestId("decoded-fields");
    const rows = within(fields)
      .getAllByRole("row")
      .map((r) => [...r.querySelectorAll("th, td")].map((c) => c.textContent));
    expect(rows, "label and value of each field, in order").toEqual([
      ["action", "MINT 1 NFT(s) of token 0.0.1001"],
      ["metadata[0]", `${METADATA_URI} (66 bytes)`],
      ["max fee", "20 hbar"],
    ]);
    expect(within(detail).getByTestId("proposal-fingerprint")).toHaveTextContent(SCHEDULED_FINGERPRINT);
    const check = within(detail).getByTestId("document-check");
    expect(check).toHaveAttribute("data-ok", "true");
    expect(check).toHaveTextContent("CID matches");
    expect(within(detail).getByTestId("mint-item")).toHaveTextContent("Deed 17");

    const signers = within(detail).getByTestId("signer-progress");
    expect(signers).toHaveTextContent("Approvals: 1 of 2 needed");
    expect(within(signers).getByTestId("signer-approved")).toHaveTextContent("carol approved");
    expect(within(signers).getByTestId("signer-approved")).toHaveTextContent("YubiKey 5.7.1 31000002");
    expect(signers, "who has not acted yet, me included").toHaveTextContent("bob (you) has not acted yet");
    expect(within(detail).getByTestId("proposal-eligible")).toHaveTextContent("alice, bob, carol, dave");

    expect(within(detail).getByTestId("proposal-sign")).toHaveTextContent("Review and sign");
    expect(within(detail).getByTestId("proposal-reject")).toBeVisible();
    expect(within(detail).queryByTestId("proposal-cancel"), "bob did not propose it").toBeNull();
    expect(screen.queryByTestId("queue-mine"), "the proposal takes the queue's place").toBeNull();
  });

  it("says Do not sign, and offers no signing, when the bytes do not do what the server says", async () => {
    const problem = "the scheduled mint writes 2 NFTs, the server says 1";
    mocked.proposalDetail.mockResolvedValue(ok(detailOf(waiting, { problem })));
    const { user } = show();
    const detail = await openRow(user, "p-soon");
    const banner = await within(detail).findByTestId("proposal-problem");
    expect(banner).toHaveAttribute("role", "alert");
    expect(banner).toHaveTextContent(`Do not sign: ${problem}`);
    expect(within(detail).queryByTestId("proposal-sign"), "no way to sign it").toBeNull();
    expect(within(detail).getByTestId("proposal-reject"), "rejecting it is the way out").toBeVisible();
  });

  it("marks a document whose CID does not check as do not sign", async () => {
    const [item] = detailOf(waiting).items;
    mocked.proposalDetail.mockResolvedValue(
      ok(
        detailOf(waiting, {
          items: [{ ...item!, document: null, documentError: "the document's CID is bafkreiother, the URI names bafkreigh2" }],
        }),
      ),
    );
    const { user } = show();
    const detail = await openRow(user, "p-soon");
    const check = await within(detail).findByTestId("document-check");
    expect(check).toHaveAttribute("data-ok", "false");
    expect(check).toHaveTextContent("Document does not check: the document's CID is bafkreiother");
    expect(within(detail).getByTestId("proposal-problem")).toHaveTextContent("Do not sign: NFT 0's document does not check");
    expect(within(detail).queryByTestId("proposal-sign")).toBeNull();
  });

  it("signs through the review and shows the new progress", async () => {
    mocked.proposalDetail.mockResolvedValue(ok(detailOf(waiting)));
    mocked.proposalReview.mockResolvedValue(ok(reviewOf(detailOf(waiting))));
    mocked.deviceScan.mockResolvedValue(ok({ devices: [yubikey], problems: [] }));
    const { user } = show();
    const detail = await openRow(user, "p-soon");
    await user.click(await within(detail).findByTestId("proposal-sign"));
    const dialog = screen.getByTestId("sign-dialog");
    await within(dialog).findByRole("radio", { checked: true });

    const bobSigned = { ...carolSigned, officer: "bob", device: "YubiKey 5.7.1 31000001" };
    const after = proposalSummary({ id: "p-soon", approvals: [bobSigned], waitsForMe: false });
    mocked.proposalApprove.mockResolvedValue(ok(after));
    mocked.proposalDetail.mockResolvedValue(ok(detailOf(after)));
    mocked.proposalsList.mockResolvedValue(ok(approvalsOf([after])));
    await user.type(within(dialog).getByTestId("sign-pin"), "123456{Enter}");

    await waitFor(() => expect(screen.queryByTestId("sign-dialog"), "the dialog closes").toBeNull());
    expect(await within(detail).findByTestId("signer-approved")).toHaveTextContent("bob (you) approved");
    expect(within(detail).getByTestId("proposal-news")).toHaveTextContent("Your approval is recorded (1 of 2 when you signed)");
    expect(within(detail).queryByTestId("proposal-sign"), "nothing left for bob to sign").toBeNull();
    await waitFor(() =>
      expect(within(detail).getByRole("heading", { level: 2 }), "focus is not lost with the button").toHaveFocus(),
    );
  });

  it("signs an admin rotation with the new key when bob holds it, saying why and that it is not an approval", async () => {
    const rotation = proposalSummary({
      id: "p-rot",
      kind: "rotation",
      proposer: "alice",
      waitsForMe: false,
      approvals: [carolSigned],
      payload: { kind: "rotation", token: "0.0.1001", role: "admin", now: "2 of alice, bob, carol", after: "2 of alice, bob (new key), carol" },
      newKey: { needed: 2, signed: ["alice"], holders: ["alice", "bob", "carol"], waitsForMe: true },
    });
    list([rotation]);
    mocked.proposalDetail.mockResolvedValue(ok(detailOf(rotation)));
    mocked.proposalReview.mockResolvedValue(ok(reviewOf(detailOf(rotation))));
    mocked.deviceScan.mockResolvedValue(ok({ devices: [yubikey], problems: [] }));
    const { user } = show();
    expect(await screen.findByTestId("proposal-row"), "bob's new key waits: it is his to do").toBeVisible();
    expect(rowsOf("queue-mine")).toHaveLength(1);
    const detail = await openRow(user, "p-rot");
    expect(within(detail).queryByTestId("proposal-sign"), "bob approved nothing here: only his new key signs").toBeNull();
    expect(within(detail).getByTestId("proposal-new-key")).toHaveTextContent("1 given, 2 needed, from alice, bob, carol (alice)");
    await user.click(within(detail).getByTestId("proposal-sign-new-key"));
    const dialog = screen.getByTestId("sign-dialog");
    expect(within(dialog).getByTestId("sign-new-key-why")).toHaveTextContent(
      "Hedera changes the admin key only when the new key signs the change too",
    );
    expect(within(dialog).getByTestId("sign-new-key-why")).toHaveTextContent("it is not an approval");
    expect(mocked.proposalReview).toHaveBeenCalledExactlyOnceWith("alice", "p-rot", true);
    await within(dialog).findByRole("radio", { checked: true });

    const after = { ...rotation, newKey: { needed: 2, signed: ["alice", "bob"], holders: ["alice", "bob", "carol"], waitsForMe: false } };
    mocked.proposalApprove.mockResolvedValue(ok(after));
    mocked.proposalDetail.mockResolvedValue(ok(detailOf(after)));
    mocked.proposalsList.mockResolvedValue(ok(approvalsOf([after])));
    await user.type(within(dialog).getByTestId("sign-pin"), "123456{Enter}");
    await waitFor(() => expect(screen.queryByTestId("sign-dialog")).toBeNull());
    expect(mocked.proposalApprove).toHaveBeenCalledExactlyOnceWith("alice", "p-rot", yubikey.id, "123456");
    expect(within(detail).getByTestId("proposal-news")).toHaveTextContent(
      "Your new key's signature is recorded (2 of 2 when you signed)",
    );
    await waitFor(() => expect(within(detail).queryByTestId("proposal-sign-new-key")).toBeNull());
  });

  it("rejects only with a reason", async () => {
    mocked.proposalDetail.mockResolvedValue(ok(detailOf(waiting)));
    const { user } = show();
    const detail = await openRow(user, "p-soon");
    await user.click(await within(detail).findByTestId("proposal-reject"));
    const dialog = screen.getByTestId("reject-dialog");
    await user.click(within(dialog).getByTestId("reject-submit"));
    expect(within(dialog).getByText("Say why you reject it.")).toBeVisible();
    expect(mocked.proposalReject, "no reason, nothing sent").not.toHaveBeenCalled();

    mocked.proposalReject.mockResolvedValue(ok(proposalSummary({ id: "p-soon", waitsForMe: false })));
    await user.type(within(dialog).getByTestId("reject-reason"), "  metadata points at the wrong deed  ");
    await user.click(within(dialog).getByTestId("reject-submit"));
    expect(mocked.proposalReject).toHaveBeenCalledExactlyOnceWith("alice", "p-soon", "metadata points at the wrong deed");
    await waitFor(() => expect(screen.queryByTestId("reject-dialog")).toBeNull());
    expect(within(detail).getByTestId("proposal-news")).toHaveTextContent("You rejected this proposal.");
  });

  it("lets the proposer cancel after confirming", async () => {
    mocked.proposalDetail.mockResolvedValue(ok(detailOf(others)));
    mocked.proposalCancel.mockResolvedValue(ok({ ...others, status: "cancelled" }));
    const { user } = show();
    const detail = await openRow(user, "p-mine");
    expect(within(detail).queryByTestId("proposal-sign"), "a proposer does not approve their own").toBeNull();
    await user.click(await within(detail).findByTestId("proposal-cancel"));
    const dialog = screen.getByRole("dialog", { name: "Cancel this proposal?" });
    await user.click(within(dialog).getByRole("button", { name: "Cancel proposal" }));
    expect(mocked.proposalCancel).toHaveBeenCalledExactlyOnceWith("alice", "p-mine");
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
  });

  it("goes back to the queue with Escape, to the row it came from, then back to the connection", async () => {
    mocked.proposalDetail.mockResolvedValue(ok(detailOf(waitingLater)));
    const gatehouse = new Gatehouse();
    gatehouse.screen = { kind: "connected", connection: connectionFor(alice) };
    gatehouse.openApprovals("alice");
    const user = userEvent.setup();
    render(ApprovalsView, { props: { profile: "alice" }, context: gatehouseContext(gatehouse) });
    await openRow(user, "p-later");
    await user.keyboard("{Escape}");
    await waitFor(() => expect(screen.queryByTestId("proposal-detail")).toBeNull());
    expect(rowsOf("queue-mine")[1], "focus returns to the proposal's row").toHaveFocus();
    await user.keyboard("{Escape}");
    expect(gatehouse.screen.kind).toBe("connected");
  });
});

describe("proposing a mint", () => {
  it("names every line that is too long before anything is sent", async () => {
    const { user } = show();
    await user.click(await screen.findByTestId("mint-open"));
    const dialog = screen.getByTestId("mint-dialog");
    const text = within(dialog).getByTestId("mint-metadata");
    await user.type(text, `ipfs://ok\n\n${"x".repeat(101)}`);
    await user.click(within(dialog).getByTestId("mint-submit"));
    const problems = within(dialog).getByTestId("mint-problems");
    expect(problems).toHaveTextContent("Line 3: 101 bytes; on-chain metadata is at most 100 bytes");
    expect(text).toHaveAttribute("aria-invalid", "true");
    expect(mocked.mintPropose).not.toHaveBeenCalled();
  });

  it("refuses an empty proposal", async () => {
    const { user } = show();
    await user.click(await screen.findByTestId("mint-open"));
    await user.click(within(screen.getByTestId("mint-dialog")).getByTestId("mint-submit"));
    expect(screen.getByTestId("mint-problems")).toHaveTextContent("Give at least one metadata URI, one per line.");
    expect(mocked.mintPropose).not.toHaveBeenCalled();
  });

  it("proposes the trimmed non-empty lines and shows the new proposal in the queue", async () => {
    const { user } = show();
    await user.click(await screen.findByTestId("mint-open"));
    const created = proposalSummary({ id: "p-new", proposer: "bob", waitsForMe: false });
    mocked.mintPropose.mockResolvedValue(ok(created));
    mocked.proposalsList.mockResolvedValue(ok(approvalsOf([created])));
    const dialog = screen.getByTestId("mint-dialog");
    await user.type(within(dialog).getByTestId("mint-metadata"), "  ipfs://a \n\nipfs://b");
    await user.click(within(dialog).getByTestId("mint-submit"));
    expect(mocked.mintPropose).toHaveBeenCalledExactlyOnceWith("alice", ["ipfs://a", "ipfs://b"]);
    await waitFor(() => expect(screen.queryByTestId("mint-dialog")).toBeNull());
    expect(screen.getByTestId("mint-proposed")).toHaveTextContent("Proposed: Mint 1 NFT of 0.0.1001 (proposal p-new)");
    expect(rowsOf("queue-others").map((r) => r.dataset.id)).toEqual(["p-new"]);
  });

  it("keeps the form open with the server's refusal", async () => {
    const { user } = show();
    await user.click(await screen.findByTestId("mint-open"));
    mocked.mintPropose.mockResolvedValue(failed(deviceError("refused", "only officers propose mints")));
    const dialog = screen.getByTestId("mint-dialog");
    await user.type(within(dialog).getByTestId("mint-metadata"), "ipfs://a");
    await user.click(within(dialog).getByTestId("mint-submit"));
    expect(await within(dialog).findByRole("alert")).toHaveTextContent("only officers propose mints");
  });
});
