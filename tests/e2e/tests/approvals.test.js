// An officer approves a mint in the real window. The deployment runs the ledger simulator; alice, bob and
// carol keep their ledger keys on SoftHSM2 tokens; alice's and carol's profiles pin the simulator's mirror.
// Erin's token is approved from the command line; alice proposes a mint. Bob's console, connected, raises
// exactly one desktop notification for it, lists it under "Waiting for me", asks for the mirror his profile
// does not pin yet and pins the one he types, shows the decoded scheduled body and its
// fingerprint, checks it against the mirror, and signs on bob's token with its PIN: progress 1/2. Carol's
// approval from the command line executes the mint, and bob's open proposal shows it without a reload (the
// server's event reached the console).

import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
  SOFTHSM_MODULE as MODULE,
  TOKEN_PIN as PIN,
  chooseDevice,
  freePorts,
  gatehouseCli,
  initDeployment,
  launchConsole,
  officersOnTokens,
  runTool,
  serverJson,
  startServer,
  stopProcess,
  tempDir,
  timeouts,
  withScreenshots,
} from '../harness.js';

const OFFICERS = ['alice', 'bob', 'carol'];
const METADATA = 'ipfs://bafkreie2egatehousee2emint0001';

/** The proposal id `proposal:   <id>` a CLI command printed. */
function proposalId(stdout) {
  const match = /^proposal:\s*(\S+)/m.exec(stdout);
  assert.ok(match, `the command printed a proposal id: ${stdout}`);
  return match[1];
}

/** The notifications the console recorded (GATEHOUSE_E2E_NOTIFICATIONS), one JSON object a line. */
async function notifications(file) {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

/** Waits until the breaker signing dialog closes, or fails with what it says. */
async function signedOrFailed(browser) {
  const dialog = browser.$('[data-testid="breaker-sign-dialog"]');
  const error = browser.$('[data-testid="breaker-sign-error"]');
  await browser.waitUntil(async () => !(await dialog.isExisting()) || (await error.isExisting()), {
    timeoutMsg: 'signing must close the dialog or say why not',
  });
  if (await error.isExisting()) assert.fail(`signing failed: ${await error.getText()}`);
}

describe('an officer approves a mint in the console', () => {
  let temp;
  let server;
  let env;
  let app;
  let mintId;
  let notificationFile;
  let mirror;
  let resumeId;
  const keys = {};

  before(
    async () => {
      temp = await tempDir('gatehouse-e2e-approvals');
      const deployment = await initDeployment(path.join(temp.dir, 'deployment'));
      notificationFile = path.join(temp.dir, 'notifications.jsonl');
      server = await startServer(deployment);
      // Bob pins his mirror in the window (below).
      const officers = await officersOnTokens(temp.dir, deployment, server, {
        officers: OFFICERS,
        people: ['erin'],
        pinMirror: ['alice', 'carol'],
      });
      ({ env, mirror } = officers);
      const { withPin, approve } = officers;
      Object.assign(keys, officers.keys);
      const token = await gatehouseCli(['token', 'propose', '--profile', 'erin', '--name', 'E2E Token', '--symbol', 'E2E', '--max-supply', '100'], env);
      const tokenId = proposalId(token.stdout);
      await approve('alice', tokenId);
      await approve('bob', tokenId);
      const mint = await gatehouseCli(['mint', 'propose', '--profile', 'alice', '--metadata', METADATA], env);
      mintId = proposalId(mint.stdout);
      app = await launchConsole('approvals', {
        ...env,
        GATEHOUSE_PROFILE: 'bob',
        GATEHOUSE_PKCS11_MODULE: MODULE,
        GATEHOUSE_E2E_NOTIFICATIONS: notificationFile,
      });
      app.approveAsCarol = () => approve('carol', mintId);
      app.approve = approve;
      app.openProposals = () => serverJson(deployment, server, 'alice', '/v1/proposals?status=open&limit=200');
      app.breaker = () => serverJson(deployment, server, 'alice', '/v1/breaker');
      app.launchAs = (name) =>
        launchConsole(`approvals-${name}`, { ...env, GATEHOUSE_PROFILE: name, GATEHOUSE_PKCS11_MODULE: MODULE });
      app.proposeMintAsAlice = async (metadata) =>
        proposalId((await gatehouseCli(['mint', 'propose', '--profile', 'alice', '--metadata', metadata], env)).stdout);
      // A compromised server: rewrite the server's own database (SQLite, beside its config).
      app.serverSql = (sql) => runTool('/usr/bin/sqlite3', [path.join(deployment.dir, 'gatehouse.db'), sql], { env, name: 'sqlite3' });
      app.pauseAsCarol = (reason) =>
        gatehouseCli(
          ['pause', '--profile', 'carol', '--module', MODULE, '--token', 'carol-ledger', '--key', keys.carol, '--reason', reason],
          withPin,
        );
      app.gatehouse = (args, extra = {}) => gatehouseCli(args, { ...env, ...extra });
      app.cliWithPin = (args) => gatehouseCli(args, withPin);
      app.carolKey = () => keys.carol;
      app.profilesFile = path.join(env.GATEHOUSE_CONFIG_DIR, 'profiles.json');
      app.proposePolicyAsCarol = async () =>
        proposalId(
          (await gatehouseCli(['policy', 'propose', 'mint', '--profile', 'carol', '--threshold', '2', '--eligible', 'bob', '--eligible', 'carol'], env))
            .stdout,
        );
    },
    { timeout: 20 * timeouts.tool + timeouts.serverReady + timeouts.driverReady + timeouts.session },
  );

  after(async () => {
    await app?.close();
    await stopProcess(server?.proc);
    await temp?.remove();
  });

  it('announces the proposal once and lists it under "Waiting for me"', { timeout: timeouts.ui * 3 }, async () => {
    const { browser } = app;
    await withScreenshots(browser, 'approvals-queue', async () => {
      await browser.$('[aria-label="Identity"]').waitForDisplayed({ timeoutMsg: 'bob connects' });
      await browser.$('[data-testid="approvals-open"]').click();
      const row = browser.$(`[data-testid="queue-mine"] [data-testid="proposal-row"][data-id="${mintId}"]`);
      await row.waitForDisplayed({ timeoutMsg: "alice's mint must wait for bob" });
      assert.match(await row.getText(), /Mint 1 NFT/, 'the row says what the proposal does');
      assert.match(await row.getText(), /0\/2/, 'and that no one has approved it yet');
    });
    await withScreenshots(browser, 'approvals-no-mirror', async () => {
      await browser.$('[data-testid="approvals-no-mirror"]').waitForDisplayed({ timeoutMsg: "bob's profile pins no mirror yet: the screen must say so" });
      await browser.$('[data-testid="mirror-url"]').setValue(mirror);
    });
    await withScreenshots(browser, 'approvals-pin-mirror', async () => {
      await browser.$('[data-testid="mirror-pin"]').click();
      await browser.$('[data-testid="approvals-no-mirror"]').waitForDisplayed({ reverse: true, timeoutMsg: 'pinning the mirror clears the warning' });
      assert.equal(await browser.$('[data-testid="approvals-mirror"]').getText(), mirror, 'and shows the mirror now pinned');
    });
    const shown = await browser.waitUntil(async () => {
      const list = await notifications(notificationFile);
      return list.length > 0 ? list : false;
    }, { timeoutMsg: 'the console must raise a desktop notification for the proposal waiting for bob' });
    assert.equal(shown.length, 1, `exactly one notification: ${JSON.stringify(shown)}`);
    assert.match(shown[0].body, /alice proposes to mint 1 NFT/);
  });

  it('shows the decoded body and its fingerprint, then signs on the token with its PIN', { timeout: timeouts.ui * 4 }, async () => {
    const { browser } = app;
    await withScreenshots(browser, 'approvals-detail', async () => {
      await browser.$(`[data-testid="proposal-row"][data-id="${mintId}"]`).click();
      const detail = browser.$('[data-testid="proposal-detail"]');
      await detail.waitForDisplayed({ timeoutMsg: 'the proposal opens' });
      const fields = browser.$('[data-testid="decoded-fields"]');
      await fields.waitForDisplayed({ timeoutMsg: 'the scheduled body, decoded here' });
      const decoded = await fields.getText();
      assert.match(decoded, /MINT 1 NFT\(s\) of token 0\.0\.\d+/, 'the mint, decoded from the bytes');
      assert.ok(decoded.includes(METADATA), 'with its metadata, byte for byte');
      assert.match(await browser.$('[data-testid="proposal-fingerprint"]').getText(), /^[0-9A-F]{4}(-[0-9A-F]{4}){3}$/);
      assert.equal(await browser.$('[data-testid="proposal-problem"]').isExisting(), false, 'nothing to warn about');
    });
    await withScreenshots(browser, 'approvals-sign-dialog', async () => {
      await browser.$('[data-testid="proposal-sign"]').click();
      const dialog = browser.$('[data-testid="sign-dialog"]');
      await dialog.waitForDisplayed({ timeoutMsg: 'Review and sign opens the dialog' });
      const checked = browser.$('[data-testid="sign-checked"]');
      await checked.waitForDisplayed({ timeoutMsg: "the body must be checked against the mirror's copy" });
      assert.match(await browser.$('[data-testid="sign-body"]').getText(), /SIGN SCHEDULE/, 'what the device signs, decoded');
      await chooseDevice(browser, dialog, 'bob-ledger');
      await browser.$('[data-testid="sign-pin"]').setValue(PIN);
    });
    await withScreenshots(browser, 'approvals-signed', async () => {
      await browser.$('[data-testid="sign-submit"]').click();
      const dialog = browser.$('[data-testid="sign-dialog"]');
      const signError = browser.$('[data-testid="sign-error"]');
      await browser.waitUntil(async () => !(await dialog.isExisting()) || (await signError.isExisting()), {
        timeoutMsg: 'signing must close the dialog or say why not',
      });
      if (await signError.isExisting()) assert.fail(`signing failed: ${await signError.getText()}`);
      const progress = browser.$('[data-testid="signer-progress"]');
      await browser.waitUntil(async () => /bob/.test(await progress.getText()) && /1\s*(of|\/)\s*2/.test(await progress.getText()), {
        timeoutMsg: "bob's approval must show in the progress, 1 of 2",
      });
      assert.equal(await browser.$('[data-testid="proposal-sign"]').isExisting(), false, 'bob cannot sign twice');
    });
  });

  it("shows the execution when carol's approval reaches the threshold", { timeout: timeouts.ui * 3 + timeouts.tool }, async () => {
    const { browser } = app;
    await app.approveAsCarol();
    await withScreenshots(browser, 'approvals-executed', async () => {
      const status = browser.$('[data-testid="proposal-status"]');
      await browser.waitUntil(async () => /executed/i.test(await status.getText()), {
        timeoutMsg: "the server's event must update bob's open proposal to executed",
      });
      await browser.$('[data-testid="proposal-outcome"]').waitForDisplayed({ timeoutMsg: 'with the outcome' });
      assert.match(await browser.$('[data-testid="proposal-outcome"]').getText(), /serial/i, 'naming the serial minted');
    });
    assert.equal((await notifications(notificationFile)).length, 1, 'still one notification: nothing new waits for bob');
  });

  it('shows a policy change decoded: what changes, every rule, and that the bytes commit to it', { timeout: timeouts.ui * 3 + timeouts.tool }, async () => {
    const { browser } = app;
    const policyId = await app.proposePolicyAsCarol();
    await withScreenshots(browser, 'approvals-policy-change', async () => {
      await browser.$('[data-testid="proposal-back"]').click();
      const row = browser.$(`[data-testid="queue-mine"] [data-testid="proposal-row"][data-id="${policyId}"]`);
      await row.waitForDisplayed({ timeoutMsg: "carol's policy change must wait for bob" });
      assert.match(await row.getText(), /Change the approval policy/, 'the row says what the proposal does');
      await row.click();
      const change = browser.$('[data-testid="policy-change"]');
      await change.waitForDisplayed({ timeoutMsg: 'the policy change, read from the document its bytes commit to' });
      await change.scrollIntoView();
      assert.match(await browser.$('[data-testid="decoded-fields"]').getText(), /UPDATE TOKEN 0\.0\.\d+/, 'the TokenUpdate, decoded');
      assert.match(await browser.$('[data-testid="decoded-fields"]').getText(), /gatehouse policy sha256:[0-9a-f]{64}/, 'its new memo');
      await browser.$('[data-testid="policy-committed"]').waitForDisplayed({ timeoutMsg: 'the memo commits to the document shown' });
      assert.match(
        await browser.$('[data-testid="policy-changes"]').getText(),
        /mint\s*2 of alice, bob, carol -> 2 of bob, carol/,
        'what changes from the policy in force',
      );
      assert.equal(await browser.$('[data-testid="proposal-problem"]').isExisting(), false, 'nothing to warn about');
    });
  });

  it('refuses to sign when the server shows other bytes than the ledger holds', { timeout: timeouts.ui * 3 + 2 * timeouts.tool }, async () => {
    const { browser } = app;
    // Alice proposes a mint; the server then shows, for it, the body and payload of the mint that executed,
    // consistent with each other (the detail decodes cleanly) but not what the ledger's schedule holds.
    const honest = await app.proposeMintAsAlice('ipfs://bafkreie2egatehousee2ehonest002');
    await app.serverSql(
      `UPDATE proposals SET scheduled_body = (SELECT scheduled_body FROM proposals WHERE id = '${mintId}'), ` +
        `payload = (SELECT payload FROM proposals WHERE id = '${mintId}') WHERE id = '${honest}'`,
    );
    await withScreenshots(browser, 'approvals-tampered', async () => {
      await browser.$('[data-testid="proposal-back"]').click();
      const row = browser.$(`[data-testid="queue-mine"] [data-testid="proposal-row"][data-id="${honest}"]`);
      await row.waitForDisplayed({ timeoutMsg: "alice's second mint must wait for bob" });
      await row.click();
      await browser.$('[data-testid="decoded-fields"]').waitForDisplayed({ timeoutMsg: 'the proposal opens, decoded' });
      assert.ok((await browser.$('[data-testid="decoded-fields"]').getText()).includes(METADATA), 'the server shows the other mint');
      await browser.$('[data-testid="proposal-sign"]').click();
      const blocked = browser.$('[data-testid="sign-blocked"]');
      await blocked.waitForDisplayed({ timeoutMsg: "the review must compare with the ledger's copy and refuse" });
      assert.match(await blocked.getText(), /Do not sign/);
      assert.match(await blocked.getText(), /the server may have changed the proposal/);
      assert.equal(await browser.$('[data-testid="sign-pin"]').isExisting(), false, 'no PIN is asked for');
    });
  });

  it('shows the policy in force, anchored on the ledger, and refuses a second change while one is open', { timeout: timeouts.ui * 3 }, async () => {
    const { browser } = app;
    await withScreenshots(browser, 'approvals-policy', async () => {
      await browser.keys('Escape');
      await browser.$('[data-testid="proposal-back"]').click().catch(() => {});
      await browser.$('[data-testid="policy-open"]').click();
      const anchor = browser.$('[data-testid="policy-anchor"]');
      await anchor.waitForDisplayed({ timeoutMsg: 'the policy, checked against the token memo on the mirror' });
      assert.match(await anchor.getText(), /anchors this policy \(version 1\)/);
      assert.match(await browser.$('[data-testid="policy-rules-current"]').getText(), /Mints\s*2 of alice, bob, carol/);
      await browser.$('[data-testid="policy-threshold"]').setValue('3');
    });
    await withScreenshots(browser, 'approvals-policy-refused', async () => {
      await browser.$('[data-testid="policy-submit"]').click();
      const refusal = browser.$('[data-testid="policy-dialog"] [role="alert"]');
      await refusal.waitForDisplayed({ timeoutMsg: "the server's refusal, in the dialog" });
      assert.match(await refusal.getText(), /a policy change is open already/, "carol's change is still open");
    });
  });

  it('shows the pause on every screen as soon as a responder trips the breaker', { timeout: timeouts.ui * 3 + timeouts.tool }, async () => {
    const { browser } = app;
    await browser.keys('Escape');
    const paused = await app.pauseAsCarol('e2e drill');
    assert.match(paused.stdout, /paused: TRIPPED by carol/, 'carol pauses from her terminal');
    await withScreenshots(browser, 'approvals-paused', async () => {
      const banner = browser.$('[data-testid="breaker-banner"]');
      await banner.waitForDisplayed({ timeoutMsg: "the server's event must bring the pause to bob's screen" });
      assert.match(await banner.getText(), /PAUSED/);
      assert.match(await banner.getText(), /carol tripped the emergency breaker/);
      assert.match(await banner.getText(), /e2e drill/);
      assert.match(await browser.$('[data-testid="breaker-ledger"]').getText(), /the mirror shows the token PAUSED/);
    });
    await browser.waitUntil(
      async () => (await notifications(notificationFile)).some((n) => /carol paused everything at .*e2e drill/.test(n.body)),
      { timeoutMsg: 'the console raises a desktop notification for the pause' },
    );
    await withScreenshots(browser, 'connection-paused', async () => {
      await browser.$('[data-testid="approvals-back"]').click();
      await browser.$('[data-testid="breaker-banner"]').waitForDisplayed({ timeoutMsg: 'the banner is on the connection screen too' });
    });
  });

  it('lets bob propose resuming from the banner; the queue takes the approvals', { timeout: timeouts.ui * 2 + 3 * timeouts.tool }, async () => {
    const { browser } = app;
    await withScreenshots(browser, 'breaker-propose-resume', async () => {
      await browser.$('[data-testid="breaker-propose-resume"]').click();
      await browser.$('[data-testid="resume-reason"]').setValue('e2e drill over');
    });
    await browser.$('[data-testid="resume-submit"]').click();
    const resume = browser.$('[data-testid="breaker-resume"]');
    await resume.waitForDisplayed({ timeoutMsg: 'the banner shows the resume proposal' });
    assert.match(await resume.getText(), /0 of 2 approvals/);
    const open = await app.openProposals();
    const proposal = open.find((p) => p.kind === 'resume');
    assert.ok(proposal, `the resume proposal is open: ${JSON.stringify(open.map((p) => p.kind))}`);
    resumeId = proposal.id;
    await app.approve('alice', resumeId);
    await app.approve('carol', resumeId);
    await withScreenshots(browser, 'breaker-resume-approved', async () => {
      await browser.waitUntil(async () => /2 of 2 approvals/.test(await resume.getText()), {
        timeoutMsg: 'the approvals reach the banner',
      });
      assert.match(await browser.$('[data-testid="breaker-next"]').getText(), /a responder now unpauses the token/, 'bob is no responder');
      assert.equal(await browser.$('[data-testid="breaker-unpause"]').isExisting(), false);
    });
  });

  describe('carol, a responder, in her own window', () => {
    let carol;

    before(async () => {
      await app.close();
      carol = await app.launchAs('carol');
    }, { timeout: timeouts.driverReady + timeouts.session + timeouts.stop });

    after(async () => {
      await carol?.close();
    });

    it('unpauses the approved resume on her device, and the breaker closes', { timeout: timeouts.ui * 3 }, async () => {
      const { browser } = carol;
      await withScreenshots(browser, 'breaker-unpause-dialog', async () => {
        await browser.$('[data-testid="breaker-unpause"]').click();
        const dialog = browser.$('[data-testid="breaker-sign-dialog"]');
        await dialog.waitForDisplayed({ timeoutMsg: 'the unpause dialog opens' });
        await browser.$('[data-testid="breaker-body"]').waitForDisplayed({ timeoutMsg: 'the TokenUnpause, decoded here' });
        assert.match(await browser.$('[data-testid="breaker-body"]').getText(), /UNPAUSE TOKEN 0\.0\.\d+/i);
        await chooseDevice(browser, dialog, 'carol-ledger');
        await browser.$('[data-testid="breaker-sign-pin"]').setValue(PIN);
      });
      await withScreenshots(browser, 'breaker-closed', async () => {
        await browser.$('[data-testid="breaker-sign-submit"]').click();
        await signedOrFailed(browser);
        await browser.$('[data-testid="breaker-banner"]').waitForDisplayed({ reverse: true, timeoutMsg: 'the breaker closes once the mirror shows the token unpaused' });
        await browser.$('[data-testid="pause-bar"]').waitForDisplayed({ timeoutMsg: 'open again: the pause control is back for carol' });
      });
      const breaker = await app.breaker();
      assert.equal(breaker.tripped, false);
      assert.equal(breaker.ledger_paused, false, 'the mirror shows the token unpaused');
    });

    it('does nothing when the pause control is let go before 1.5 s', { timeout: timeouts.ui * 2 }, async () => {
      const { browser } = carol;
      await withScreenshots(browser, 'pause-released-early', async () => {
        const hold = browser.$('[data-testid="pause-hold"]');
        await hold.waitForDisplayed();
        await browser.action('pointer').move({ origin: hold }).down().pause(900).up().perform();
        const how = browser.$('[data-testid="pause-hold-how"]');
        await browser.waitUntil(async () => /Let go too early/.test(await how.getText()), { timeoutMsg: 'the control says nothing happened' });
        await browser.pause(1000);
        assert.equal(await browser.$('[data-testid="breaker-sign-dialog"]').isExisting(), false, 'no signing dialog');
        assert.equal(await browser.$('[data-testid="breaker-banner"]').isExisting(), false, 'not paused');
      });
      assert.equal((await app.breaker()).tripped, false, 'the server was not asked');
    });

    it('pauses after a 1.5 s hold and a signature on her device; the banner is on every screen', { timeout: timeouts.ui * 4 }, async () => {
      const { browser } = carol;
      await withScreenshots(browser, 'pause-hold-dialog', async () => {
        await browser.$('[data-testid="pause-reason"]').setValue('e2e hold drill');
        const hold = browser.$('[data-testid="pause-hold"]');
        await browser.action('pointer').move({ origin: hold }).down().pause(1800).up().perform();
        const dialog = browser.$('[data-testid="breaker-sign-dialog"]');
        await dialog.waitForDisplayed({ timeoutMsg: 'holding for 1.5 s opens the signing dialog' });
        await browser.$('[data-testid="breaker-body"]').waitForDisplayed({ timeoutMsg: 'the TokenPause, decoded here' });
        assert.match(await browser.$('[data-testid="breaker-body"]').getText(), /PAUSE TOKEN 0\.0\.\d+/i);
        await chooseDevice(browser, dialog, 'carol-ledger');
        await browser.$('[data-testid="breaker-sign-pin"]').setValue(PIN);
      });
      await withScreenshots(browser, 'pause-hold-paused', async () => {
        await browser.$('[data-testid="breaker-sign-submit"]').click();
        await signedOrFailed(browser);
        const banner = browser.$('[data-testid="breaker-banner"]');
        await banner.waitForDisplayed({ timeoutMsg: 'the banner shows the pause' });
        assert.match(await banner.getText(), /carol tripped the emergency breaker/);
        assert.match(await banner.getText(), /e2e hold drill/);
        await browser.waitUntil(async () => /the mirror shows the token PAUSED/.test(await browser.$('[data-testid="breaker-ledger"]').getText()), {
          timeoutMsg: 'the mirror shows the ledger paused',
        });
      });
      for (const [open, back, name] of [
        ['approvals-open', 'approvals-back', 'pause-banner-approvals'],
        ['audit-open', 'audit-back', 'pause-banner-audit'],
      ]) {
        await withScreenshots(browser, name, async () => {
          await browser.$(`[data-testid="${open}"]`).click();
          await browser.$('[data-testid="breaker-banner"]').waitForDisplayed({ timeoutMsg: `the banner is on ${name}` });
          await browser.$(`[data-testid="${back}"]`).click();
        });
      }
      const breaker = await app.breaker();
      assert.equal(breaker.tripped, true);
      assert.equal(breaker.by, 'carol');
    });
  });
  describe('carol breaks the glass when her server cannot be reached', () => {
    let carol;
    let serverUrl;

    /** Points carol's profile at `url` (a dead port plays a server that cannot be reached). */
    async function carolServer(url) {
      const file = JSON.parse(await readFile(app.profilesFile, 'utf8'));
      const profile = file.profiles.find((p) => p.name === 'carol');
      const before = profile.server_url;
      profile.server_url = url;
      await writeFile(app.profilesFile, JSON.stringify(file, null, 2));
      return before;
    }

    before(
      async () => {
        // Resume first (the hold drill above paused): alice proposes, bob and carol approve, carol unpauses.
        const resume = proposalId((await app.gatehouse(['resume', 'propose', '--profile', 'alice', '--reason', 'hold drill over'])).stdout);
        await app.approve('bob', resume);
        await app.approve('carol', resume);
        await app.cliWithPin(['resume', 'unpause', resume, '--profile', 'carol', '--module', MODULE, '--token', 'carol-ledger', '--key', app.carolKey()]);
        assert.equal((await app.breaker()).tripped, false, 'resumed before the break-glass drill');
        // Erin has the server create carol's own funded account; carol sets break-glass up with what it printed.
        const made = await app.gatehouse(['break-glass-account', '--profile', 'erin', '--for', 'carol', '--hbar', '10']);
        const setUp = /gatehouse profile break-glass PROFILE (.*)$/m.exec(made.stdout);
        assert.ok(setUp, `the set-up command is printed: ${made.stdout}`);
        await app.gatehouse(['profile', 'break-glass', 'carol', ...setUp[1].trim().split(/\s+/)]);
        const [port] = await freePorts(1);
        serverUrl = await carolServer(`https://127.0.0.1:${port}`);
        carol = await app.launchAs('carol');
      },
      { timeout: 8 * timeouts.tool + timeouts.driverReady + timeouts.session },
    );

    after(async () => {
      await carol?.close();
    });

    it('pauses the token on the ledger from the error screen, and the record reaches the server once it answers', { timeout: timeouts.ui * 5 }, async () => {
      const { browser } = carol;
      await withScreenshots(browser, 'break-glass-offer', async () => {
        await browser.$('[data-error-code="unreachable"]').waitForDisplayed({ timeoutMsg: "carol's server cannot be reached" });
        await browser.$('[data-testid="break-glass"]').waitForDisplayed({ timeoutMsg: 'the error screen offers break-glass' });
        await browser.$('[data-testid="break-glass-reason"]').setValue('server down drill');
        const hold = browser.$('[data-testid="break-glass-hold"]');
        await browser.action('pointer').move({ origin: hold }).down().pause(1800).up().perform();
        const dialog = browser.$('[data-testid="breaker-sign-dialog"]');
        await dialog.waitForDisplayed({ timeoutMsg: 'holding opens the signing dialog' });
        const body = browser.$('[data-testid="breaker-body"]');
        await body.waitForDisplayed({ timeoutMsg: 'the TokenPause, built and decoded here' });
        assert.match(await body.getText(), /PAUSE TOKEN 0\.0\.\d+/i);
        await chooseDevice(browser, dialog, 'carol-ledger');
        await browser.$('[data-testid="breaker-sign-pin"]').setValue(PIN);
      });
      await withScreenshots(browser, 'break-glass-paused', async () => {
        await browser.$('[data-testid="breaker-sign-submit"]').click();
        await signedOrFailed(browser);
        const outcome = browser.$('[data-testid="break-glass-outcome"]');
        await outcome.waitForDisplayed({ timeoutMsg: 'the console says what the ledger did' });
        assert.match(await outcome.getText(), /The ledger paused token 0\.0\.\d+/);
        assert.match(await outcome.getText(), /The mirror shows it PAUSED/);
        assert.match(await browser.$('[data-testid="break-glass-waiting"]').getText(), /1 signed break-glass record waits/);
      });
      const unheard = await app.breaker();
      assert.equal(unheard.tripped, false, 'the server has not heard of it yet');
      assert.equal(unheard.ledger_paused, true, 'but the mirror shows the token paused');

      await carolServer(serverUrl);
      await withScreenshots(browser, 'break-glass-delivered', async () => {
        await browser.$('button=Try again').click();
        const banner = browser.$('[data-testid="breaker-banner"]');
        await banner.waitForDisplayed({ timeoutMsg: 'connected again, the queued record trips the breaker' });
        assert.match(await banner.getText(), /carol tripped the emergency breaker/);
        assert.match(await banner.getText(), /server down drill/);
      });
      const breaker = await app.breaker();
      assert.equal(breaker.tripped, true);
      assert.equal(breaker.by, 'carol');
      assert.match(breaker.ledger_status, /break-glass/);
    });
  });
});
