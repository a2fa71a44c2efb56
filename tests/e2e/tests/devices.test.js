// A YubiKey (the virtual PIV card) holds the TLS key of a profile: the console asks for the PIN before
// connecting, a wrong PIN is refused with the tries left, the right one connects; the Devices screen
// lists the card and, with its PIN, shows the key in slot 9a. The audit trail syncs over the connection the
// card opened. A second key, in 9d with touch policy
// "always", is another profile's: connecting says to touch, a missed touch keeps the PIN dialog up with
// its own error, and a touch while the card blinks connects. Then three wrong PINs block the card's PIN and
// the Devices screen unblocks it with the PUK. Last, the card is pulled while frank is connected: the console
// closes the connection and says the device was removed.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
  gatehouseCli,
  gatehouseServer,
  initDeployment,
  insertVirtualCard,
  launchConsole,
  startServer,
  stopProcess,
  tempDir,
  timeouts,
  touchVirtualCard,
  virtualPiv,
  withScreenshots,
  xdgEnv,
} from '../harness.js';

const PIN = '123456';
/** The PIN the PUK sets when it unblocks the card. */
const UNBLOCKED_PIN = '654321';

/** The card's row on the Devices screen, once the screen lists it. */
async function cardRow(browser, card) {
  const table = browser.$('[aria-label="Devices present"]');
  await table.waitForDisplayed({ timeoutMsg: 'the Devices screen must list the devices present' });
  return browser.waitUntil(
    async () => {
      for (const candidate of await table.$$('tbody tr')) {
        if ((await candidate.getText()).includes(card.serial)) return candidate;
      }
      return false;
    },
    { timeoutMsg: `the card (serial ${card.serial}) is not listed` },
  );
}

describe('a profile whose key is on a YubiKey', { skip: !virtualPiv.dir && 'the virtual PIV readers are not running (scripts/test starts them)' }, () => {
  let temp;
  let card;
  let server;
  let env;
  let app;

  before(
    async () => {
      temp = await tempDir('gatehouse-e2e-devices');
      const deployment = await initDeployment(path.join(temp.dir, 'deployment'));
      // A short touch timeout, so the missed touch below does not wait a YubiKey's 15 s.
      card = await insertVirtualCard(path.join(temp.dir, 'card'), { touchTimeoutSecs: 3 });
      const onCard = ['--piv', '--serial', card.serial];
      const withPin = { GATEHOUSE_DEVICE_PIN: PIN };
      await gatehouseCli(['device', 'keygen', '--algorithm', 'p256', ...onCard], withPin);
      const csr = path.join(temp.dir, 'frank.csr');
      const cert = path.join(temp.dir, 'frank.pem');
      await gatehouseCli(['device', 'csr', '--key', '9a', '--name', 'frank', '--out', csr, ...onCard], withPin);
      await gatehouseServer(['registry', '--config', deployment.config, 'enrol', '--name', 'frank', '--role', 'officer', '--csr', csr, '--out', cert]);
      // Grace's key signs only after a touch: the request for her certificate needs one too.
      const touchCsr = path.join(temp.dir, 'grace.csr');
      const touchCert = path.join(temp.dir, 'grace.pem');
      await gatehouseCli(['device', 'keygen', '--algorithm', 'p256', '--slot', '9d', '--touch-policy', 'always', ...onCard], withPin);
      await Promise.all([
        gatehouseCli(['device', 'csr', '--key', '9d', '--name', 'grace', '--out', touchCsr, ...onCard], withPin),
        touchVirtualCard(card),
      ]);
      await gatehouseServer(['registry', '--config', deployment.config, 'enrol', '--name', 'grace', '--role', 'officer', '--csr', touchCsr, '--out', touchCert]);
      server = await startServer(deployment);
      env = { GATEHOUSE_CONFIG_DIR: path.join(temp.dir, 'console-config'), ...xdgEnv(path.join(temp.dir, 'xdg')) };
      await gatehouseCli(
        ['profile', 'add', '--name', 'frank-yubikey', '--server', server.url, '--ca', deployment.caPem, '--cert', cert, '--device-key', '9a', ...onCard],
        env,
      );
      await gatehouseCli(
        ['profile', 'add', '--name', 'grace-touch', '--server', server.url, '--ca', deployment.caPem, '--cert', touchCert, '--device-key', '9d', ...onCard],
        env,
      );
      app = await launchConsole('frank-yubikey', { ...env, GATEHOUSE_PROFILE: 'frank-yubikey' });
    },
    { timeout: 13 * timeouts.tool + timeouts.serverReady + timeouts.driverReady + timeouts.session },
  );

  after(async () => {
    await app?.close();
    await stopProcess(server?.proc);
    await stopProcess(card?.proc);
    await temp?.remove();
  });

  it('asks for the PIN, refuses a wrong one with the tries left, and connects with the right one', { timeout: timeouts.ui * 3 }, async () => {
    const { browser } = app;
    await withScreenshots(browser, 'device-pin-wrong', async () => {
      const dialog = browser.$('[data-testid="pin-dialog"]');
      await dialog.waitForDisplayed({ timeoutMsg: 'no PIN dialog: a profile with its key on a YubiKey must ask for the PIN' });
      assert.match(await dialog.getText(), new RegExp(`serial ${card.serial}`), 'the dialog names the YubiKey by serial');
      await dialog.$('input[type="password"]').setValue('000000');
      await browser.keys('Enter');
      const tries = browser.$('[data-testid="pin-tries"]');
      await tries.waitForDisplayed({ timeoutMsg: 'a wrong PIN must show the tries left' });
      assert.match(await tries.getText(), /2 tries left/, 'the card counts down from 3');
    });
    await withScreenshots(browser, 'device-pin-connected', async () => {
      await browser.$('[data-testid="pin-dialog"] input[type="password"]').setValue(PIN);
      await browser.keys('Enter');
      const identity = browser.$('[aria-label="Identity"]');
      await identity.waitForDisplayed({ timeoutMsg: 'the right PIN must connect' });
      await browser.waitUntil(async () => /\bfrank\b/.test(await identity.getText()), {
        timeoutMsg: 'the server must know the certificate of the key on the card as frank',
      });
    });
  });

  it('syncs the audit trail over the connection the card opened, without asking again', { timeout: timeouts.ui * 3 }, async () => {
    const { browser } = app;
    await withScreenshots(browser, 'device-audit-synced', async () => {
      await browser.$('[data-testid="audit-open"]').click();
      const sync = browser.$('[data-testid="audit-sync"]');
      await sync.waitForClickable({ timeoutMsg: 'the explorer has no enabled Sync button' });
      await sync.click();
      await browser.waitUntil(async () => Number(await browser.$('[data-testid="audit-total"]').getAttribute('data-total')) > 0, {
        timeoutMsg: 'syncing as frank (key on the card) must fetch and verify the trail',
      });
      assert.equal(await browser.$('[data-testid="audit-sync-error"]').isExisting(), false, 'no sync error');
      assert.equal(await browser.$('[data-testid="pin-dialog"]').isExisting(), false, 'and no second PIN');
      await browser.$('[data-testid="audit-back"]').click();
      await browser.$('[aria-label="Identity"]').waitForDisplayed({ timeoutMsg: 'back to the connection view' });
    });
  });

  it('lists the card on the Devices screen and shows its key after the PIN', { timeout: timeouts.ui * 3 }, async () => {
    const { browser } = app;
    await withScreenshots(browser, 'devices-opened', async () => {
      await browser.$('button=Devices').click();
      await (await cardRow(browser, card)).$('button=Open…').click();
      await browser.$('[data-testid="pin-dialog"] input[type="password"]').setValue(PIN);
      await browser.keys('Enter');
      const opened = browser.$('[aria-label="Opened device"]');
      await opened.waitForDisplayed({ timeoutMsg: 'the right PIN must open the device' });
      const keys = await opened.$('[aria-label="Keys"]').getText();
      assert.match(keys, /9a/, 'the TLS key in slot 9a is listed');
      assert.match(keys, /ECDSA P-256/, 'as a P-256 key');
      assert.match(await opened.$('[data-testid="pin-status"]').getText(), /3 tries left/, 'the right PIN restored the tries');
    });
  });

  it('generates an Ed25519 key with the touch policy chosen', { timeout: timeouts.ui * 3 + timeouts.tool }, async () => {
    const { browser } = app;
    await withScreenshots(browser, 'devices-generated', async () => {
      const opened = browser.$('[aria-label="Opened device"]');
      // The form's two choices, in order: algorithm, then (for a YubiKey) touch.
      const [algorithm, touch] = await opened.$$('select');
      await algorithm.selectByAttribute('value', 'ed25519');
      await touch.selectByAttribute('value', 'never');
      await opened.$('button=Generate…').click();
      await browser.$('[data-testid="pin-dialog"] input[type="password"]').setValue(PIN);
      await browser.keys('Enter');
      await browser.waitUntil(async () => /9c[\s\S]*Ed25519/.test(await opened.$('[aria-label="Keys"]').getText()), {
        timeoutMsg: 'the new Ed25519 key must appear in 9c',
      });
    });
    // Ed25519 keys ask for a touch by default; "never" was chosen, so the card signs untouched.
    const signed = await gatehouseCli(['device', 'sign-test', '--key', '9c', '--piv', '--serial', card.serial], {
      GATEHOUSE_DEVICE_PIN: PIN,
    });
    assert.match(signed.stdout, /Ed25519 signature by key 9c verified/);
  });

  it('says to touch the YubiKey, names a missed touch, and connects when touched', { timeout: timeouts.ui * 4 }, async () => {
    const { browser } = app;
    await browser.$('button=Back').click();
    await browser.$('button=Switch profile').click();
    await browser.$('[aria-label="Connect with profile grace-touch"]').click();
    const dialog = browser.$('[data-testid="pin-dialog"]');
    await dialog.waitForDisplayed({ timeoutMsg: 'the touch profile must ask for the PIN first' });
    await withScreenshots(browser, 'device-touch-prompt', async () => {
      await dialog.$('input[type="password"]').setValue(PIN);
      await browser.keys('Enter');
      const prompt = browser.$('[data-testid="touch-prompt"]');
      await prompt.waitForDisplayed({ timeoutMsg: 'while the card waits, the console must say to touch it' });
      assert.match(await prompt.getText(), /touch it now/, 'the prompt says what to do');
    });
    await withScreenshots(browser, 'device-touch-missed', async () => {
      const alert = browser.$('[data-testid="pin-dialog"] [role="alert"]');
      await alert.waitForDisplayed({ timeout: timeouts.ui, timeoutMsg: 'a missed touch must come back to the PIN dialog with an error' });
      const text = await alert.getText();
      assert.match(text, /YubiKey not touched/, 'titled as a missed touch, not a removed device');
      assert.match(text, /not touched in time/, "with the card's reason");
    });
    await withScreenshots(browser, 'device-touch-connected', async () => {
      await browser.$('[data-testid="pin-dialog"] input[type="password"]').setValue(PIN);
      await Promise.all([browser.keys('Enter'), touchVirtualCard(card)]);
      const identity = browser.$('[aria-label="Identity"]');
      await identity.waitForDisplayed({ timeoutMsg: 'touched while blinking, the console must connect' });
      await browser.waitUntil(async () => /\bgrace\b/.test(await identity.getText()), {
        timeoutMsg: 'the server must know the touched key as grace',
      });
    });
  });

  it('unblocks a blocked PIN with the PUK from the Devices screen', { timeout: timeouts.ui * 4 }, async () => {
    const { browser } = app;
    await browser.$('button=Devices').click();
    await (await cardRow(browser, card)).$('button=Open…').click();
    const pin = browser.$('[data-testid="pin-dialog"] input[type="password"]');
    for (const left of ['2 tries left', '1 try left']) {
      await pin.setValue('000000');
      await browser.keys('Enter');
      await browser.waitUntil(async () => (await browser.$('[data-testid="pin-tries"]').getText()).includes(left), {
        timeoutMsg: `a wrong PIN must show "${left}"`,
      });
    }
    await withScreenshots(browser, 'device-pin-unblock', async () => {
      await pin.setValue('000000');
      await browser.keys('Enter');
      const unblock = browser.$('button=Unblock with the PUK…');
      await unblock.waitForDisplayed({ timeoutMsg: 'a blocked YubiKey PIN must offer the PUK' });
      await unblock.click();
      const dialog = browser.$('[data-testid="new-pin-dialog"]');
      await dialog.waitForDisplayed({ timeoutMsg: 'the PUK dialog must open' });
      const [puk, fresh, again] = await dialog.$$('input[type="password"]');
      await puk.setValue('12345678');
      await fresh.setValue(UNBLOCKED_PIN);
      await again.setValue(UNBLOCKED_PIN);
      await browser.keys('Enter');
      const news = browser.$('[data-testid="pin-news"]');
      await news.waitForDisplayed({ timeoutMsg: 'the PUK must unblock the PIN and open the card' });
      assert.match(await news.getText(), /PIN unblocked/);
      assert.match(await browser.$('[data-testid="pin-status"]').getText(), /3 tries left/, 'the new PIN has all its tries');
    });
  });

  it('notices the card pulled while connected, and says so', { timeout: timeouts.ui * 4 }, async () => {
    const { browser } = app;
    await browser.$('button=Back').click();
    await browser.$('button=Switch profile').click();
    await browser.$('[aria-label="Connect with profile frank-yubikey"]').click();
    await browser.$('[data-testid="pin-dialog"] input[type="password"]').setValue(UNBLOCKED_PIN);
    await browser.keys('Enter');
    const identity = browser.$('[aria-label="Identity"]');
    await identity.waitForDisplayed({ timeoutMsg: 'frank connects with the PIN the PUK set' });
    await withScreenshots(browser, 'device-pulled', async () => {
      await stopProcess(card.proc);
      const removed = browser.$('[data-error-code="device_gone"]');
      await removed.waitForDisplayed({ timeout: timeouts.ui, timeoutMsg: 'pulling the card must close the connection and say so' });
      assert.match(await removed.getText(), /Device removed/, 'titled for people');
      assert.equal(await identity.isExisting(), false, 'the connected view is gone');
    });
  });
});
