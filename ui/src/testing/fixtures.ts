// Sample IPC values for tests: what the Rust side would send.
import type {
  Approvals,
  AuditAlarm,
  AuditEntry,
  AuditFacets,
  AuditPage,
  AuditRow,
  AuditStatus,
  BreakGlassView,
  Connection,
  DeviceDetails,
  DeviceSummary,
  IpcError,
  KeySummary,
  ProfileSummary,
  ProposalDetail,
  ProposalSummary,
  ReviewView,
  RotationOverview,
  TimelineBar,
} from "../bindings";
import type { Result } from "../lib/ipc";

export function ok<T>(data: T): Result<T, IpcError> {
  return { status: "ok", data };
}

export function failed<T = never>(error: IpcError): Result<T, IpcError> {
  return { status: "error", error };
}

export const alice: ProfileSummary = {
  name: "alice",
  serverUrl: "https://gatehouse.test:8443",
  environment: "production",
  caCert: "/home/alice/ca.pem",
  clientCert: "/home/alice/alice.pem",
  keySource: "file: /home/alice/alice.key",
};

export const bob: ProfileSummary = {
  name: "bob-staging",
  serverUrl: "https://staging.gatehouse.test",
  environment: "staging",
  caCert: "/home/bob/ca.pem",
  clientCert: "/home/bob/bob.pem",
  keySource: "file: /home/bob/bob.key",
};

export const FINGERPRINT =
  "3F:A9:1C:77:0B:DE:42:91:5A:6E:C0:88:12:F4:9B:3D:71:AA:05:E2:CC:19:64:8F:B0:2D:57:E3:9A:11:C6:04";

export function connectionFor(profile: ProfileSummary, notAfter = "2099-01-01T00:00:00Z"): Connection {
  return {
    profile,
    identity: {
      name: "Alice Example",
      roles: ["officer", "responder"],
      fingerprint: "AB:CD:EF:01:23:45:67:89",
      notAfter,
    },
    server: {
      version: "0.1.0",
      apiVersion: 1,
      instanceId: "gh-1",
      deployment: "eu-prod",
      database: "postgres",
      uptimeSeconds: 3 * 3600 + 12 * 60 + 5,
    },
    connectedAt: "2026-05-01T08:00:00Z",
  };
}

export const notTrusted: IpcError = {
  code: "server_not_trusted",
  message: "The server presented a certificate that the profile's CA did not sign.",
  hint: "Ask your administrator for the deployment's CA certificate and compare the fingerprint below.",
  detail: "invalid peer certificate: UnknownIssuer",
  fingerprint: FINGERPRINT,
  triesLeft: null,
};

export const unreachable: IpcError = {
  code: "unreachable",
  message: "No answer from gatehouse.test:8443.",
  hint: "Check the network and that the server is running.",
  detail: null,
  fingerprint: null,
  triesLeft: null,
};

// ---- audit ----

export const LOG_KEY = "gatehouse.local/eu-prod+8f3a2c1d+AUx2Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1u";

export const auditOk: AuditStatus = {
  size: 12345,
  origin: "gatehouse.local/eu-prod",
  root: "q1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6j7k8l9z0x1c=",
  verifier: LOG_KEY,
  staged: 0,
  alarm: null,
  syncedAt: "2026-05-01T07:55:00Z",
};

export const tamperAlarm: AuditAlarm = {
  source: "cache",
  message: "entry 4242 does not hash to the signed root: the local copy was changed",
  entry: 4242,
  checkpoint: 12345,
  raisedAt: "2026-05-01T08:01:00Z",
};

export const auditAlarmed: AuditStatus = { ...auditOk, alarm: tamperAlarm };

export const auditFacets: AuditFacets = {
  actors: ["alice", "bob", "erin"],
  actions: ["identity.refused", "registry.disable", "registry.enable"],
  outcomes: ["denied", "failed", "success"],
  firstMs: Date.parse("2026-04-30T00:00:00Z"),
  lastMs: Date.parse("2026-05-01T08:00:00Z"),
};

const ACTIONS = ["registry.disable", "identity.refused", "registry.enable"];
const OUTCOMES = ["success", "denied", "failed"];

/** The row at `position` of a newest-first list of `total` entries (index total-1 first). */
export function auditRowAt(position: number, total: number): AuditRow {
  const index = total - 1 - position;
  return {
    index,
    time: new Date(Date.parse("2026-05-01T08:00:00Z") - position * 60_000).toISOString(),
    actor: index % 2 === 0 ? "alice" : "bob",
    action: ACTIONS[index % 3] ?? "registry.disable",
    object: `officer/${index % 7}`,
    outcome: OUTCOMES[index % 3] ?? "success",
  };
}

/** What audit_page answers for a cache of `total` matching entries. */
export function auditPageOf(total: number, offset: number, limit: number): AuditPage {
  const rows: AuditRow[] = [];
  for (let p = offset; p < Math.min(total, offset + limit); p++) rows.push(auditRowAt(p, total));
  return { total, offset, rows };
}

export const includedEntry: AuditEntry = {
  index: 12344,
  time: "2026-05-01T08:00:00.123Z",
  actor: "erin",
  actorCert: "AB:CD:EF:01:23:45:67:89",
  action: "registry.disable",
  object: "officer/bob",
  outcome: "success",
  outcomeCode: null,
  requestId: "req-7f3a",
  details: '{\n  "reason": "left the company"\n}',
  commitments: ["client_ip"],
  decodeError: null,
  leafHash: "bGVhZmhhc2g=",
  leafBytes: 312,
  proof: { status: "included", tree_size: 12345, root: "cm9vdGhhc2g=", path: ["aGFzaDE=", "aGFzaDI=", "aGFzaDM="] },
};

export const failedEntry: AuditEntry = {
  ...includedEntry,
  index: 4242,
  proof: { status: "failed", reason: "entry 4242: computed root differs from the signed checkpoint" },
};

export const timelineBars: TimelineBar[] = [
  { startMs: Date.parse("2026-05-01T06:00:00Z"), action: "registry.disable", count: 3 },
  { startMs: Date.parse("2026-05-01T06:00:00Z"), action: "identity.refused", count: 5 },
  { startMs: Date.parse("2026-05-01T07:00:00Z"), action: "registry.enable", count: 2 },
];

export const yubikey: DeviceSummary = {
  id: "1.0",
  kind: "piv",
  title: 'YubiKey 5.7.1 31000001 in "Yubico YubiKey OTP+FIDO+CCID 00 00"',
  label: "Yubico YubiKey OTP+FIDO+CCID 00 00",
  manufacturer: "Yubico",
  model: "YubiKey 5.7.1",
  serial: "31000001",
  notForProduction: false,
};

export const softwareFile: DeviceSummary = {
  id: "1.1",
  kind: "software",
  title: "software key: not for production (/home/alice/dev-keys.age)",
  label: "software key: not for production",
  manufacturer: "Gatehouse",
  model: "age-encrypted key file",
  serial: "",
  notForProduction: true,
};

export function deviceError(code: IpcError["code"], message: string, triesLeft: number | null = null): IpcError {
  return { code, message, hint: "What to do.", detail: null, fingerprint: null, triesLeft };
}

export function yubikeyWith(keys: KeySummary[], triesLeft = 3): DeviceDetails {
  return { device: yubikey, pinStatus: `${triesLeft} tries left`, pinTriesLeft: triesLeft, keys };
}

export const tlsKey: KeySummary = {
  id: "9a",
  label: "9a: authentication (TLS)",
  algorithm: "ECDSA P-256",
  publicKey: "04" + "ab".repeat(64),
};

// ---- approvals (the person is bob, an officer) ----

export const MIRROR = "https://mirror.gatehouse.test";

export const METADATA_URI = "ipfs://bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";

/** An open mint of one NFT proposed by alice that waits for bob; `over` changes any field. */
export function proposalSummary(over: Partial<ProposalSummary> & { id: string }): ProposalSummary {
  return {
    kind: "mint",
    status: "open",
    proposer: "alice",
    createdAt: "2099-01-01T10:00:00Z",
    deadline: "2099-01-02T10:00:00Z",
    threshold: 2,
    eligible: ["alice", "bob", "carol", "dave"],
    payload: { kind: "mint", token: "0.0.1001", metadata: [METADATA_URI] },
    scheduleId: "0.0.5005",
    approvals: [],
    rejections: [],
    outcome: null,
    waitsForMe: true,
    newKey: null,
    ...over,
  };
}

/** What proposals_list answers for bob. */
export function approvalsOf(proposals: ProposalSummary[], over: Partial<Approvals> = {}): Approvals {
  return { me: "bob", proposals, alarms: [], mirror: MIRROR, live: true, ...over };
}

export const SCHEDULED_FINGERPRINT = "1A2B-3C4D-5E6F-7081";

/** What proposal_detail answers for `proposal`: a mint of one NFT whose document checks. */
export function detailOf(proposal: ProposalSummary, over: Partial<ProposalDetail> = {}): ProposalDetail {
  return {
    proposal,
    fingerprint: SCHEDULED_FINGERPRINT,
    scheduled: [
      { label: "action", value: "MINT 1 NFT(s) of token 0.0.1001" },
      { label: "metadata[0]", value: `${METADATA_URI} (66 bytes)` },
      { label: "max fee", value: "20 hbar" },
    ],
    items: [
      {
        index: 0,
        text: METADATA_URI,
        hex: "697066733a2f2f",
        bytes: 66,
        document: {
          name: "Deed 17",
          image: "ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
          mimeType: "image/png",
          description: "Title deed 17",
          cid: "matches bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
          cidMatches: true,
        },
        documentError: null,
      },
    ],
    policy: null,
    rotation: null,
    problem: null,
    ...over,
  };
}

export const BODY_FINGERPRINT = "9F8E-7D6C-5B4A-3928";

/** What proposal_review answers after the mirror held the same scheduled body. */
export function reviewOf(detail: ProposalDetail, over: Partial<ReviewView> = {}): ReviewView {
  return {
    detail,
    mirror: MIRROR,
    bodyFingerprint: BODY_FINGERPRINT,
    body: [
      { label: "action", value: `SIGN SCHEDULE ${detail.proposal.scheduleId}` },
      { label: "transaction", value: "0.0.2@4070908800.000000000" },
      { label: "valid for", value: "180 s" },
    ],
    expiresAt: "2099-01-01T10:03:00Z",
    ...over,
  };
}

/** A responder's profile with break-glass set up and nothing waiting for the server. */
export const breakGlassReady: BreakGlassView = {
  setup: {
    token: "0.0.1001",
    node: "127.0.0.1:50211",
    nodeAccount: "0.0.3",
    mirror: "http://127.0.0.1:5551",
    payer: "0.0.1042",
    payerKey: "ED25519 aa11",
  },
  problem: null,
  waiting: 0,
};

/** The rotation wizard's overview for alice: the supply key 2 of alice, bob, carol (the ledger agrees), alice's
 * staged key, and four people who can hold keys. */
export const rotationOverview: RotationOverview = {
  me: "alice",
  token: "0.0.1003",
  keys: [
    {
      role: "supply",
      holders: "2 of alice, bob, carol",
      members: [
        { label: "alice", value: "aa" },
        { label: "bob", value: "bb" },
        { label: "carol", value: "cc" },
      ],
      ledger: "2 of alice, bob, carol",
      agrees: true,
      proposal: "create",
      confirmedAt: "2026-12-06T07:00:00Z",
    },
  ],
  ledgerError: null,
  paused: false,
  staged: [{ officer: "alice", publicKey: "dd", evidence: "self-reported", device: "alice-ledger" }],
  people: ["alice", "bob", "carol", "dave"],
  rotation: null,
};
