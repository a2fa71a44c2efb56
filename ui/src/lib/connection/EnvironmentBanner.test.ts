import { render, screen } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";

import type { Environment } from "../../bindings";
import EnvironmentBanner from "./EnvironmentBanner.svelte";

function show(environment: Environment) {
  render(EnvironmentBanner, {
    props: { environment, profile: "alice", serverUrl: "https://gatehouse.test:8443" },
  });
  return screen.getByRole("status", { name: `Environment: ${environment}` });
}

describe("EnvironmentBanner", () => {
  it.each([
    ["development", "DEVELOPMENT", "env-development"],
    ["staging", "STAGING", "env-staging"],
    ["production", "PRODUCTION", "env-production"],
  ] as const)("shows %s with its own colour", (environment, word, colourClass) => {
    const banner = show(environment);
    expect(banner, "the environment is named in capitals").toHaveTextContent(word);
    expect(banner, "the colour class matches the environment").toHaveClass(colourClass);
    for (const other of ["env-development", "env-staging", "env-production"].filter((c) => c !== colourClass)) {
      expect(banner, `${environment} must not wear the colour of another environment`).not.toHaveClass(other);
    }
    expect(banner, "which profile and server are in use").toHaveTextContent("alice");
    expect(banner, "which profile and server are in use").toHaveTextContent("https://gatehouse.test:8443");
  });

  it("uses the solid red tokens for production", () => {
    const banner = show("production");
    expect(banner.className, "production maps to the red environment tokens in app.css").toContain("env-production");
    expect(banner, "production says it is live").toHaveTextContent("Live system");
  });
});
