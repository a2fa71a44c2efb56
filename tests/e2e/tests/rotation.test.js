// The key rotation wizard in the real window, from start to the mirror's confirmation. The deployment runs the
// ledger simulator; alice, bob and carol keep their ledger keys on SoftHSM2 tokens; erin's token is approved from
// the command line. Alice opens Key rotation: the supply key in the registry and on the ledger (2 of alice, bob,
// carol, the same key); she generates a new key on her token, which the server stages with its evidence; she
// proposes the supply key with her new key in it; bob and carol approve from the command line with their admin
// keys; the window follows it to "executed" and the mirror showing the new key.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
  SOFTHSM_MODULE,
  TOKEN_PIN,
  gatehouseCli,
  initDeployment,
  launchConsole,
  officersOnTokens,
  serverJson,
  startServer,
  stopProcess,
  tempDir,
  timeouts,
  withScreenshots,
} from '../harness.js';

describe('officers rotate the supply key in the console', () => {
  let temp;
  let server;
  let app;
  let approve;
  let tokenKeys;
  let rotationId;

  before(
    async () => {
      temp = await tempDir('gatehouse-e2e-rotation');
      const deployment = await initDeployment(path.join(temp.dir, 'deployment'));
      server = await startServer(deployment);
      const officers = await officersOnTokens(temp.dir, deployment, server, { officers: ['alice', 'bob', 'carol'], people: ['erin'] });
      const { env } = officers;
      approve = officers.approve;
      const token = await gatehouseCli(['token', 'propose', '--profile', 'erin', '--name', 'Rotated', '--symbol', 'ROT', '--max-supply', '100'], env);
      const tokenId = /^proposal:\s*(\S+)/m.exec(token.stdout)?.[1];
      assert.ok(tokenId, token.stdout);
      await approve('alice', tokenId);
      await approve('bob', tokenId);
      tokenKeys = () => serverJson(deployment, server, 'bob', '/v1/token-keys');
      app = await launchConsole('rotation', { ...env, GATEHOUSE_PROFILE: 'alice', GATEHOUSE_PKCS11_MODULE: SOFTHSM_MODULE });
    },
    { timeout: 16 * timeouts.tool + timeouts.serverReady + timeouts.driverReady + timeouts.session },
  );

  after(async () => {
    await app?.close();
    await stopProcess(server?.proc);
    await temp?.remove();
  });

  it("shows the token's keys in the registry next to the ledger's copy", { timeout: timeouts.ui * 3 }, async () => {
    const { browser } = app;
    await withScreenshots(browser, 'rotation-keys', async () => {
      const open = browser.$('[data-testid="rotation-open"]');
      await open.waitForClickable({ timeoutMsg: 'the connected screen offers Key rotation' });
      await open.click();
      const keys = browser.$('[data-testid="rotation-keys"]');
      await keys.waitForDisplayed({ timeoutMsg: 'the wizard lists the keys' });
      const supply = browser.$('[data-testid="rotation-keys"] tr[data-role="supply"]');
      await browser.waitUntil(async () => /the same key/.test(await supply.getText()), {
        timeoutMsg: "the ledger's supply key is the registry's",
      });
      assert.match(await supply.getText(), /2 of alice, bob, carol.*2 of alice, bob, carol/s);
    });
  });

  it('generates a new key on her token and stages it with its evidence', { timeout: timeouts.ui * 4 }, async () => {
    const { browser } = app;
    await withScreenshots(browser, 'rotation-stage', async () => {
      await browser.$('[data-testid="rotation-stage-open"]').click();
      const pin = browser.$('[data-testid="rotation-stage-pin"]');
      await pin.waitForDisplayed({ timeoutMsg: 'the device form opens' });
      const label = await browser.waitUntil(
        async () => {
          for (const candidate of await browser.$$('label.device')) {
            if ((await candidate.getText()).includes('alice-ledger')) return candidate;
          }
          return false;
        },
        { timeoutMsg: "the scan must list alice's token" },
      );
      await label.click();
      await pin.setValue(TOKEN_PIN);
      await browser.$('[data-testid="rotation-stage-submit"]').click();
      const staged = browser.$('[data-testid="rotation-staged"]');
      const error = browser.$('[data-testid="rotation-stage-error"]');
      await browser.waitUntil(async () => (await staged.isExisting()) || (await error.isExisting()), {
        timeoutMsg: 'staging must show the key or say why not',
      });
      if (await error.isExisting()) assert.fail(`staging failed: ${await error.getText()}`);
      assert.match(await staged.getText(), /self-reported evidence, SoftHSM/);
    });
  });

  it('proposes the supply key with her new key, the key after in words', { timeout: timeouts.ui * 3 }, async () => {
    const { browser } = app;
    await withScreenshots(browser, 'rotation-proposed', async () => {
      assert.equal(await browser.$('[data-testid="rotation-after"]').getText(), '2 of alice (new key), bob, carol');
      await browser.$('[data-testid="rotation-propose"]').click();
      const status = browser.$('[data-testid="rotation-status-value"]');
      const error = browser.$('[data-testid="rotation-propose-error"]');
      await browser.waitUntil(async () => (await status.isExisting()) || (await error.isExisting()), {
        timeoutMsg: 'the proposal must show or say why not',
      });
      if (await error.isExisting()) assert.fail(`proposing failed: ${await error.getText()}`);
      assert.equal(await status.getText(), 'Open');
      rotationId = (await browser.$('[data-testid="rotation-status"] dd.mono').getText()).trim();
      assert.match(rotationId, /^[0-9a-f-]{36}$/);
    });
  });

  it("follows bob's and carol's approvals to the mirror showing the new key", { timeout: timeouts.ui * 3 + 2 * timeouts.tool }, async () => {
    const { browser } = app;
    await approve('bob', rotationId);
    await approve('carol', rotationId);
    await withScreenshots(browser, 'rotation-confirmed', async () => {
      const confirmed = browser.$('[data-testid="rotation-confirmed"]');
      await browser.waitUntil(async () => (await confirmed.isExisting()) || (await browser.$('[data-testid="rotation-unconfirmed"]').isExisting()), {
        timeoutMsg: 'the wizard must follow the proposal to its execution',
      });
      if (!(await confirmed.isExisting())) await browser.$('[data-testid="rotation-refresh"]').click();
      await confirmed.waitForDisplayed({ timeoutMsg: "the mirror's confirmation must show" });
      await confirmed.scrollIntoView();
      assert.match(await confirmed.getText(), /mirror shows the new supply key \(2 of alice, bob, carol\)/);
      const supply = (await tokenKeys()).find((k) => k.role === 'supply');
      assert.equal(supply.proposal, rotationId, 'the registry holds the rotated key');
      assert.ok(supply.confirmed_at, 'the server saw the mirror show it');
    });
  });
});
