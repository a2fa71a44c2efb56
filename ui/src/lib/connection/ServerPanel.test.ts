import { render, screen, within } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";

import { alice, connectionFor } from "../../testing/fixtures";
import ServerPanel from "./ServerPanel.svelte";

describe("ServerPanel", () => {
  it("lists the server facts with a human uptime", () => {
    const { server, connectedAt } = connectionFor(alice);
    render(ServerPanel, { props: { server, connectedAt } });
    const region = screen.getByRole("region", { name: "Server" });
    expect(region, "deployment").toHaveTextContent("eu-prod");
    expect(region, "version").toHaveTextContent("0.1.0");
    expect(region, "instance id").toHaveTextContent("gh-1");
    expect(region, "database backend by its product name").toHaveTextContent("PostgreSQL");
    expect(within(region).getByText("3 h 12 min"), "uptime is humanised, seconds dropped").toBeVisible();
  });
});
