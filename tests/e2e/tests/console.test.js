// The real console window against a real gatehouse-server: connecting with a good profile shows who
// you are, and a server whose certificate the profile's CA did not issue is refused with an explanation.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
  certificateFingerprint,
  initDeployment,
  launchConsole,
  people,
  startServer,
  stopProcess,
  tempDir,
  timeouts,
  withScreenshots,
  writeConsoleConfig,
} from '../harness.js';

const HEADINGS = 'h1, h2, h3, h4, h5, h6, [role="heading"]';

describe('gatehouse-console', () => {
  let temp;
  let deployment;
  let server;
  let configEnv;

  before(
    async () => {
      temp = await tempDir('gatehouse-e2e');
      deployment = await initDeployment(path.join(temp.dir, 'deployment'));
      // A second, unrelated deployment: its CA did not sign the running server's certificate.
      const stranger = await initDeployment(path.join(temp.dir, 'other-deployment'));
      server = await startServer(deployment);
      configEnv = await writeConsoleConfig(path.join(temp.dir, 'console-config'), {
        deployment,
        otherDeployment: stranger,
        server,
        xdgRoot: path.join(temp.dir, 'xdg'),
      });
    },
    { timeout: 3 * timeouts.tool + timeouts.serverReady },
  );

  after(async () => {
    await stopProcess(server?.proc);
    await temp?.remove();
  });

  describe('started with GATEHOUSE_PROFILE=alice', () => {
    let app;
    before(
      async () => {
        app = await launchConsole('alice', { ...configEnv, GATEHOUSE_PROFILE: 'alice' });
      },
      { timeout: timeouts.driverReady + timeouts.session },
    );
    after(async () => {
      await app?.close();
    });

    it('shows alice and her officer role', { timeout: timeouts.ui * 2 }, async () => {
      const { browser } = app;
      await withScreenshots(browser, 'identity-alice', async () => {
        const identity = browser.$('[aria-label="Identity"]');
        await identity.waitForDisplayed({
          timeoutMsg: 'the Identity region never appeared: did the console connect with profile alice?',
        });
        await browser.waitUntil(
          async () => {
            const texts = await identity.$$(HEADINGS).map((heading) => heading.getText());
            return texts.some((text) => /\balice\b/i.test(text));
          },
          { timeoutMsg: 'the Identity region has no heading naming alice' },
        );

        const roles = browser.$('[aria-label="Roles"]');
        await roles.waitForDisplayed({ timeoutMsg: 'the Roles list never appeared' });
        const roleTexts = await roles.$$('li, [role="listitem"]').map((item) => item.getText());
        for (const role of people.alice) {
          assert.ok(
            roleTexts.some((text) => text.trim().toLowerCase() === role || text.toLowerCase().includes(role)),
            `alice is an ${role} in the officer registry, so the Roles list must say so; it shows ${JSON.stringify(roleTexts)}`,
          );
        }

        const banner = browser.$('[aria-label="Environment: development"]');
        assert.ok(
          await banner.isDisplayed(),
          'the profile is a development one, so the environment banner must say so',
        );
      });
    });

    it("shows the server's Hedera network answering", { timeout: timeouts.ui * 2 }, async () => {
      const { browser } = app;
      await withScreenshots(browser, 'ledger-alice', async () => {
        const state = browser.$('[aria-label="Ledger"] [data-testid="ledger-state"]');
        await state.waitForDisplayed({ timeoutMsg: 'the Ledger panel never said whether the network answers' });
        assert.equal(await state.getText(), 'Answering', "the development deployment's simulator answers the server");
        const panel = await browser.$('[aria-label="Ledger"]').getText();
        assert.match(panel, /Local simulator \(development\)/, 'a development deployment runs the simulator');
        assert.match(await browser.$('[data-testid="ledger-balance"]').getText(), /^[0-9,.]+ ℏ$/, "the operator's balance in hbar");
      });
    });
  });

  describe('started with GATEHOUSE_PROFILE=wrong-ca', () => {
    let app;
    before(
      async () => {
        app = await launchConsole('wrong-ca', { ...configEnv, GATEHOUSE_PROFILE: 'wrong-ca' });
      },
      { timeout: timeouts.driverReady + timeouts.session },
    );
    after(async () => {
      await app?.close();
    });

    it('refuses the server and explains why', { timeout: timeouts.ui * 2 }, async () => {
      const { browser } = app;
      await withScreenshots(browser, 'server-not-trusted', async () => {
        const alert = browser.$('[role="alert"][data-error-code="server_not_trusted"]');
        await alert.waitForDisplayed({
          timeoutMsg:
            'no role=alert with data-error-code=server_not_trusted: the profile trusts another CA, ' +
            'so connecting must fail with that code',
        });

        const headings = await alert.$$(HEADINGS).map((heading) => heading.getText());
        assert.ok(
          headings.some((text) => text.trim() === 'Server certificate not trusted'),
          `the alert must be headed "Server certificate not trusted"; its headings are ${JSON.stringify(headings)}`,
        );

        // The person needs something to compare out of band: a fingerprint of what the server presented.
        const text = await alert.getText();
        const known = [
          await certificateFingerprint(deployment.serverPem),
          await certificateFingerprint(deployment.caPem),
        ];
        assert.ok(
          showsFingerprint(text, known),
          'the alert must show (at least 8 bytes of) the SHA-256 fingerprint of the server certificate ' +
            `or its CA; it shows ${JSON.stringify(text)}`,
        );
      });
    });
  });
});

/**
 * Whether `text` shows at least 8 consecutive bytes of one of `fingerprints` (lowercase hex), whichever
 * way the UI groups the digits (":", " ", "-" or nothing) and whatever hex-looking words surround them.
 */
function showsFingerprint(text, fingerprints) {
  const runs = text.match(/[0-9a-f]{2}(?:[:\s-]?[0-9a-f]{2}){7,}/gi) ?? [];
  for (const run of runs) {
    // Split into bytes as written, then try every window of 8 bytes or more.
    const bytes = run.toLowerCase().match(/[0-9a-f]{2}/g);
    for (let start = 0; start + 8 <= bytes.length; start++) {
      for (let end = bytes.length; end - start >= 8; end--) {
        const candidate = bytes.slice(start, end).join('');
        if (fingerprints.some((fingerprint) => fingerprint.includes(candidate))) return true;
      }
    }
  }
  return false;
}
