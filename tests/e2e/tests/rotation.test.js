// The key rotation wizard in the real window, from start to the mirror's confirmation. The deployment runs the
// ledger simulator; alice, bob and carol keep their ledger keys on SoftHSM2 tokens; erin's token is approved from
// the command line. Alice opens Key rotation: the supply key in the registry and on the ledger (2 of alice, bob,
// carol, the same key); she generates a new key on her token, which the server stages with its evidence; she
// proposes the supply key with her new key in it; bob and carol approve from the command line with their admin
// keys; the window follows it to "executed" and the mirror showing the new key. Then the admin key: she stages
// another key and proposes 2 of alice (new key), bob, carol; Hedera asks the new key to sign too, which she does
// first in Approvals ("Sign with my new key"); bob's and carol's approvals carry their keys in both the old and the
// new admin key, and the wizard follows it to the mirror showing the new admin key. Last, onboarding: hana is
// registered with a certificate for a key on her token and stages a ledger key there; alice proposes her into the
// admin and supply keys in the wizard (the pause key first, which the server refuses: hana is no responder), and the
// wizard follows bob's and carol's approvals to the execution. Then ivan, registered from his token, onboards himself
// from his own window into the supply key with a new TLS key made on his token: the certificate comes with the
// proposal and a new profile keeps it; after the quorum approves, that profile gets in and his old one does not.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
  SOFTHSM_MODULE,
  TOKEN_PIN,
  chooseDevice,
  gatehouseCli,
  gatehouseServer,
  initDeployment,
  launchConsole,
  officersOnTokens,
  runTool,
  saveScreenshots,
  serverJson,
  startServer,
  stopProcess,
  tempDir,
  timeouts,
  withScreenshots,
} from '../harness.js';

/** Generates a key on alice's token in the wizard's step 2 and stages it: what the wizard then says about it. */
async function stageKey(browser) {
  await browser.$('[data-testid="rotation-stage-open"]').click();
  const pin = browser.$('[data-testid="rotation-stage-pin"]');
  await pin.waitForDisplayed({ timeoutMsg: 'the device form opens' });
  await chooseDevice(browser, browser, 'alice-ledger');
  await pin.setValue(TOKEN_PIN);
  await browser.$('[data-testid="rotation-stage-submit"]').click();
  const staged = browser.$('[data-testid="rotation-staged"]');
  const error = browser.$('[data-testid="rotation-stage-error"]');
  await browser.waitUntil(async () => (await staged.isExisting()) || (await error.isExisting()), {
    timeoutMsg: 'staging must show the key or say why not',
  });
  if (await error.isExisting()) assert.fail(`staging failed: ${await error.getText()}`);
  return staged.getText();
}

describe('officers rotate the supply key in the console', () => {
  let temp;
  let server;
  let app;
  let approve;
  let tokenKeys;
  let rotationId;
  let env;
  let deployment;
  let officers;
  /** The token's treasury account on the ledger (the mirror) and the NFTs it holds. */
  let ledgerTreasury;

  /**
   * An administrator registers `name` as an officer (no say yet) with a certificate for a P-256 key on a new token
   * of theirs, and they add a profile with it and stage an Ed25519 ledger key made on the same token.
   */
  async function registeredOnToken(name) {
    const token = `${name}-ledger`;
    const onToken = ['--module', SOFTHSM_MODULE, '--token', token];
    await runTool('/usr/bin/softhsm2-util', ['--init-token', '--free', '--label', token, '--pin', TOKEN_PIN, '--so-pin', '12345678'], {
      env,
      name: 'softhsm2-util --init-token',
    });
    const keyOf = (out) => /key ([0-9a-f]+) on/.exec(out.stdout)?.[1];
    const tls = keyOf(await gatehouseCli(['device', 'keygen', ...onToken, '--algorithm', 'p256', '--label', `${name} tls`], officers.withPin));
    const ledger = keyOf(await gatehouseCli(['device', 'keygen', ...onToken, '--algorithm', 'ed25519', '--label', `${name} ledger`], officers.withPin));
    assert.ok(tls && ledger, `both keys are made on ${name}'s token`);
    const csr = path.join(temp.dir, `${name}.csr`);
    const cert = path.join(temp.dir, `${name}.pem`);
    await gatehouseCli(['device', 'csr', ...onToken, '--key', tls, '--name', name, '--out', csr], officers.withPin);
    await gatehouseServer(['registry', '--config', deployment.config, 'enrol', '--name', name, '--role', 'officer', '--csr', csr, '--out', cert]);
    await gatehouseCli(
      ['profile', 'add', '--name', name, '--server', server.url, '--ca', deployment.caPem, '--cert', cert, '--device-key', tls, ...onToken],
      env,
    );
    await gatehouseCli(['ledger-key', 'stage', '--profile', name, ...onToken, '--key', ledger], officers.withPin);
    return { token };
  }

  before(
    async () => {
      temp = await tempDir('gatehouse-e2e-rotation');
      deployment = await initDeployment(path.join(temp.dir, 'deployment'));
      server = await startServer(deployment);
      officers = await officersOnTokens(temp.dir, deployment, server, { officers: ['alice', 'bob', 'carol'], people: ['erin'] });
      env = officers.env;
      approve = officers.approve;
      const token = await gatehouseCli(['token', 'propose', '--profile', 'erin', '--name', 'Rotated', '--symbol', 'ROT', '--max-supply', '100'], env);
      const tokenId = /^proposal:\s*(\S+)/m.exec(token.stdout)?.[1];
      assert.ok(tokenId, token.stdout);
      await approve('alice', tokenId);
      await approve('bob', tokenId);
      tokenKeys = () => serverJson(deployment, server, 'bob', '/v1/token-keys');
      const created = await serverJson(deployment, server, 'bob', `/v1/proposals/${tokenId}`);
      const ledgerToken = created.outcome?.token;
      assert.ok(ledgerToken, JSON.stringify(created));
      const mirrorJson = async (route) => (await fetch(`${officers.mirror}/api/v1/${route}`)).json();
      ledgerTreasury = async () => {
        const account = (await mirrorJson(`tokens/${ledgerToken}`)).treasury_account_id;
        const held = (await mirrorJson(`accounts/${account}`)).balance?.tokens?.find((t) => t.token_id === ledgerToken);
        return { account, nfts: held?.balance ?? 0 };
      };
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
      assert.match(await stageKey(browser), /self-reported evidence, SoftHSM/);
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

  /**
   * Rotates `role` to 2 of alice (a newly staged key), bob, carol: she proposes it in the wizard and signs with her new
   * key in Approvals first, then bob's and carol's approvals (their admin keys, in the new key too) execute it; the
   * wizard shows the mirror's confirmation. Screenshots `rotation-ROLE-*`. The proposal's id.
   */
  async function rotateWithNewKey(role, expectAfter) {
    const { browser } = app;
    let id;
    await withScreenshots(browser, `rotation-${role}-proposed`, async () => {
      assert.match(await stageKey(browser), /Staged: /, 'another key is staged');
      await browser.$(`[data-testid="rotation-role-${role}"]`).click();
      await browser.$('[data-testid="rotation-new-key-note"]').waitForDisplayed({ timeoutMsg: 'the wizard says why the new key signs too' });
      await browser.waitUntil(async () => (await browser.$('[data-testid="rotation-after"]').getText()) === '2 of alice (new key), bob, carol', {
        timeoutMsg: `the ${role} key after, in words`,
      });
      await browser.$('[data-testid="rotation-propose"]').click();
      const status = browser.$('[data-testid="rotation-status-value"]');
      const error = browser.$('[data-testid="rotation-propose-error"]');
      await browser.waitUntil(
        async () => ((await status.isExisting()) && (await status.getText()) === 'Open') || (await error.isExisting()),
        { timeoutMsg: `the ${role} rotation must show or say why not` },
      );
      if (await error.isExisting()) assert.fail(`proposing failed: ${await error.getText()}`);
      id = (await browser.$('[data-testid="rotation-status"] dd.mono').getText()).trim();
      assert.match(await browser.$('[data-testid="rotation-status"]').getText(), expectAfter);
    });
    await withScreenshots(browser, `rotation-${role}-waits-for-new-key`, async () => {
      const mine = browser.$('[data-testid="rotation-new-key-mine"]');
      await browser.waitUntil(async () => mine.isExisting(), { timeoutMsg: "the wizard says alice's new key must sign" });
      assert.match(await browser.$('[data-testid="rotation-new-key-signatures"]').getText(), /0 given, 2 needed \(none yet\)/);
      await browser.$('[data-testid="rotation-approvals"]').click();
      const row = browser.$(`[data-testid="queue-mine"] [data-testid="proposal-row"][data-id="${id}"]`);
      await row.waitForDisplayed({ timeoutMsg: 'the rotation waits for alice in Approvals' });
      await row.click();
      await browser.$('[data-testid="proposal-new-key"]').waitForDisplayed({ timeoutMsg: "the new key's signatures are shown" });
    });
    await withScreenshots(browser, `rotation-${role}-sign-new-key`, async () => {
      await browser.$('[data-testid="proposal-sign-new-key"]').click();
      const dialog = browser.$('[data-testid="sign-dialog"]');
      await dialog.waitForDisplayed({ timeoutMsg: 'the signing dialog opens' });
      await browser.$('[data-testid="sign-checked"]').waitForDisplayed({ timeoutMsg: "the body is checked against the mirror's copy" });
      assert.match(await browser.$('[data-testid="sign-new-key-why"]').getText(), /only when the new key signs the change too/);
      await chooseDevice(browser, dialog, 'alice-ledger');
      await browser.$('[data-testid="sign-pin"]').setValue(TOKEN_PIN);
      await browser.$('[data-testid="sign-submit"]').click();
      const signError = browser.$('[data-testid="sign-error"]');
      await browser.waitUntil(async () => !(await dialog.isExisting()) || (await signError.isExisting()), {
        timeoutMsg: 'signing must close the dialog or say why not',
      });
      if (await signError.isExisting()) assert.fail(`signing failed: ${await signError.getText()}`);
      const news = browser.$('[data-testid="proposal-news"]');
      await news.waitForDisplayed({ timeoutMsg: 'the console says what was recorded' });
      assert.match(await news.getText(), /Your new key's signature is recorded \(1 of 2/);
    });
    // The admin key's quorum: bob's and carol's approvals, whose keys the new key holds too.
    await approve('bob', id);
    await approve('carol', id);
    await withScreenshots(browser, `rotation-${role}-confirmed`, async () => {
      await browser.waitUntil(async () => (await tokenKeys()).find((k) => k.role === role && k.proposal === id)?.confirmed_at, {
        timeoutMsg: `the server must see the mirror show the new ${role} key`,
      });
      const key = (await tokenKeys()).find((k) => k.role === role);
      assert.equal(key.threshold, 2);
      assert.ok(key.members.some((m) => m.officer === 'alice'), 'alice holds her new key in it');
      // Back from Approvals is back to the wizard it was opened from.
      await browser.$('[data-testid="approvals-back"]').click();
      const confirmed = browser.$('[data-testid="rotation-confirmed"]');
      await confirmed.waitForDisplayed({ timeoutMsg: "the wizard shows the mirror's confirmation" });
      await confirmed.scrollIntoView();
      assert.match(await confirmed.getText(), new RegExp(`mirror shows the new ${role} key \\(2 of alice, bob, carol\\)`));
      assert.match(await browser.$('[data-testid="rotation-new-key-signatures"]').getText(), /needed \(alice, bob, carol\)/);
    });
    return id;
  }

  it('rotates the admin key: her new key signs in Approvals, the quorum approves', { timeout: timeouts.ui * 8 + 2 * timeouts.tool }, async () => {
    const adminId = await rotateWithNewKey('admin', /admin: 2 of alice, bob, carol → 2 of alice \(new key\), bob, carol/);
    assert.notEqual(adminId, rotationId);
  });

  it('rotates the treasury: a new account, the NFT moves, the mirror confirms', { timeout: timeouts.ui * 8 + 5 * timeouts.tool }, async () => {
    // One NFT in the treasury first: alice proposes it from the command line, bob and carol approve.
    const minted = await gatehouseCli(['mint', 'propose', '--profile', 'alice', '--metadata', 'ipfs://bafy-treasury-moves'], env);
    const mintId = /^proposal:\s*(\S+)/m.exec(minted.stdout)?.[1];
    assert.ok(mintId, minted.stdout);
    await approve('bob', mintId);
    await approve('carol', mintId);
    assert.equal((await ledgerTreasury()).nfts, 1, 'the NFT is in the treasury');
    const before = await ledgerTreasury();
    await rotateWithNewKey('treasury', /1 NFT moves with it/);
    const after = await ledgerTreasury();
    assert.notEqual(after.account, before.account, 'the token names a new treasury account');
    assert.equal(after.nfts, 1, 'the NFT moved with it');
  });

  it('warns before offboarding carol, who alone holds the pause key', { timeout: timeouts.ui * 2 }, async () => {
    const { browser } = app;
    await withScreenshots(browser, 'rotation-offboard-warning', async () => {
      const officer = browser.$('[data-testid="offboard-officer"]');
      await officer.scrollIntoView();
      await officer.selectByVisibleText('carol');
      await browser.$('[data-testid="offboard-reason"]').setValue('leaves the company');
      const warning = browser.$('[data-testid="offboard-warning"]');
      await warning.waitForDisplayed({ timeoutMsg: 'the wizard warns before anything is sent' });
      assert.match(await warning.getText(), /The pause key needs 1 signature\(s\) and only 0 holder\(s\) would remain/);
      assert.equal(await browser.$('[data-testid="offboard-propose"]').isEnabled(), false, 'nothing the server must refuse is sent');
    });
  });

  it('onboards hana into the admin and supply keys in one proposal the quorum approves', { timeout: timeouts.ui * 6 + 12 * timeouts.tool }, async () => {
    const { browser } = app;
    // An administrator registers hana with a certificate for a P-256 key on her token (no say yet); from her
    // profile she stages an Ed25519 ledger key made on the same token.
    await registeredOnToken('hana');

    await withScreenshots(browser, 'rotation-onboard', async () => {
      await browser.$('[data-testid="rotation-refresh"]').click();
      const officer = browser.$('[data-testid="onboard-officer"]');
      await officer.scrollIntoView();
      await browser.waitUntil(async () => (await officer.getText()).includes('hana'), { timeoutMsg: 'hana, with her staged key, is offered' });
      await officer.selectByVisibleText('hana');
      assert.match(await browser.$('[data-testid="onboard-key"]').getText(), /self-reported evidence/);
      const supply = browser.$('[data-testid="onboard-key-supply"]');
      assert.equal(await supply.isSelected(), true, 'every key she does not hold is chosen to start');
      assert.match(await supply.parentElement().getText(), /→ 2 of alice, bob, carol, hana/);
      await browser.$('[data-testid="onboard-reason"]').setValue('joins the signing team');
      await browser.$('[data-testid="onboard-propose"]').click();
      const refused = browser.$('[data-testid="onboard-error"]');
      await refused.waitForDisplayed({ timeoutMsg: 'the pause key is the responders\': the server says so' });
      assert.match(await refused.getText(), /hana is not a registered responder/);
      await saveScreenshots(browser, 'rotation-onboard-refused');
      await browser.$('[data-testid="onboard-key-pause"]').click();
      await browser.$('[data-testid="onboard-propose"]').click();
      const onboarding = browser.$('[data-testid="rotation-onboarding"]');
      await onboarding.waitForDisplayed({ timeoutMsg: 'the onboarding is proposed and followed in step 4' });
      assert.match(await onboarding.getText(), /hana joins the admin, supply key\(s\) and their rules: joins the signing team/);
    });
    const id = (await browser.$('[data-testid="rotation-status"] dd.mono').getText()).trim();
    await approve('bob', id);
    await approve('carol', id);
    await withScreenshots(browser, 'rotation-onboarded', async () => {
      const executed = browser.$('[data-testid="onboarding-executed"]');
      await browser.waitUntil(async () => executed.isExisting(), { timeoutMsg: 'the wizard follows it to its execution' });
      await executed.scrollIntoView();
      assert.match(await executed.getText(), /hana holds the admin, supply key\(s\) and is eligible in their rules/);
      const keys = await tokenKeys();
      for (const role of ['admin', 'supply']) {
        const key = keys.find((k) => k.role === role);
        assert.ok(key.members.some((m) => m.officer === 'hana'), `${role}: ${JSON.stringify(key)}`);
      }
    });
  });
  it('ivan onboards himself from his own window, his new TLS certificate from his token in the same proposal', { timeout: timeouts.ui * 6 + 16 * timeouts.tool + timeouts.driverReady + timeouts.session }, async () => {
    // An administrator registers ivan from a key on his token (no say yet); he stages a ledger key made there.
    const { token } = await registeredOnToken('ivan');

    // His own console: he chooses himself, the supply key, and moving his connection onto a new key on his token.
    const ivan = await launchConsole('rotation-ivan', { ...env, GATEHOUSE_PROFILE: 'ivan', GATEHOUSE_PKCS11_MODULE: SOFTHSM_MODULE });
    let id;
    try {
      const { browser } = ivan;
      await withScreenshots(browser, 'rotation-join', async () => {
        const dialog = browser.$('[data-testid="pin-dialog"]');
        await dialog.waitForDisplayed({ timeoutMsg: 'his profile\'s key is on his token: the console asks for its PIN' });
        await dialog.$('input[type="password"]').setValue(TOKEN_PIN);
        await browser.keys('Enter');
        const open = browser.$('[data-testid="rotation-open"]');
        await open.waitForClickable({ timeoutMsg: 'his console connects with the key on his token' });
        await open.click();
        const officer = browser.$('[data-testid="onboard-officer"]');
        await officer.waitForDisplayed({ timeoutMsg: 'the wizard opens' });
        await officer.scrollIntoView();
        await browser.waitUntil(async () => (await officer.getText()).includes('ivan'), { timeoutMsg: 'ivan, with his staged key, is offered' });
        await officer.selectByVisibleText('ivan');
        for (const role of ['admin', 'pause']) {
          const box = browser.$(`[data-testid="onboard-key-${role}"]`);
          if ((await box.isExisting()) && (await box.isSelected())) await box.click();
        }
        assert.equal(await browser.$('[data-testid="onboard-with-certificate"]').isSelected(), true, 'on by default for my own onboarding');
        await browser.$('[data-testid="onboard-reason"]').setValue('joins the minting team');
        await browser.$('[data-testid="onboard-propose"]').click();
        const devicePin = browser.$('[data-testid="onboard-device-pin"]');
        await devicePin.waitForDisplayed({ timeoutMsg: 'the device form opens' });
        assert.equal(await browser.$('[data-testid="onboard-profile"]').getValue(), 'ivan-device');
        await chooseDevice(browser, browser, token);
        await devicePin.setValue(TOKEN_PIN);
        await saveScreenshots(browser, 'rotation-join-device');
        await browser.$('[data-testid="onboard-device-submit"]').click();
        const joined = browser.$('[data-testid="onboard-joined"]');
        const failed = browser.$('[data-testid="onboard-device-error"]');
        await browser.waitUntil(async () => (await joined.isExisting()) || (await failed.isExisting()), {
          timeout: timeouts.tool,
          timeoutMsg: 'the onboarding is proposed or the window says why not',
        });
        if (await failed.isExisting()) assert.fail(`the onboarding failed: ${await failed.getText()}`);
        assert.match(await joined.getText(), /Profile ivan-device holds your new certificate \(SHA-256 [0-9a-f:]+\)/i);
        const onboarding = browser.$('[data-testid="rotation-onboarding-certificate"]');
        await onboarding.waitForDisplayed({ timeoutMsg: 'step 4 shows the certificate the quorum approves' });
      });
      id = (await browser.$('[data-testid="rotation-status"] dd.mono').getText()).trim();
      await approve('bob', id);
      await approve('carol', id);
      // Executed, the registry revokes the certificate his window connected with: it says so and which profile to use.
      await withScreenshots(browser, 'rotation-joined', async () => {
        const switched = browser.$('[data-testid="onboard-switch"]');
        await browser.waitUntil(async () => switched.isExisting(), {
          timeout: timeouts.tool,
          timeoutMsg: 'his window says the onboarding executed and which profile to connect with',
        });
        await switched.scrollIntoView();
        assert.match(await switched.getText(), /Connect with profile ivan-device/);
      });
      const executed = await serverJson(deployment, server, 'bob', `/v1/proposals/${id}`);
      assert.equal(executed.status, 'executed', JSON.stringify(executed));
    } finally {
      await ivan.close();
    }
    // The profile the console added connects with the new key on his token; his old certificate is revoked.
    const me = await gatehouseCli(['whoami', '--profile', 'ivan-device'], officers.withPin);
    assert.match(me.stdout, /name:\s+ivan/);
    await assert.rejects(gatehouseCli(['whoami', '--profile', 'ivan'], officers.withPin), /not registered|revoked|refused/i);
  });
});
