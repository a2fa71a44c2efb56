// Sample IPC values for tests: what the Rust side would send.
import type { Connection, IpcError, ProfileSummary } from "../bindings";
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
};

export const unreachable: IpcError = {
  code: "unreachable",
  message: "No answer from gatehouse.test:8443.",
  hint: "Check the network and that the server is running.",
  detail: null,
  fingerprint: null,
};
