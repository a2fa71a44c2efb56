// The audit explorer in the real console window: a large log synced and verified, filtered, an
// entry opened with its inclusion proof, and the red alarm when the local copy is edited behind
// the console's back.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
  demoActivity,
  importProfile,
  initDeployment,
  launchConsole,
  python,
  startServer,
  stopProcess,
  tempDir,
  timeouts,
  withScreenshots,
  writeConsoleConfig,
} from '../harness.js';

const ENTRIES = 100_000;
const TAMPERED = 4242;

const byTestId = (id) => `[data-testid="${id}"]`;

async function total(browser) {
  const value = await browser.$(byTestId('audit-total')).getAttribute('data-total');
  return Number(value);
}

describe('audit explorer', () => {
  let temp;
  let server;
  let configEnv;
  let app;

  before(
    async () => {
      temp = await tempDir('gatehouse-e2e-audit');
      const deployment = await initDeployment(path.join(temp.dir, 'deployment'));
      await demoActivity(deployment, ENTRIES);
      server = await startServer(deployment);
      configEnv = await writeConsoleConfig(path.join(temp.dir, 'console-config'), {
        deployment,
        otherDeployment: deployment,
        server,
        xdgRoot: path.join(temp.dir, 'xdg'),
      });
      await importProfile(configEnv, deployment, server, 'dave');
      app = await launchConsole('dave', { ...configEnv, GATEHOUSE_PROFILE: 'dave' });
    },
    { timeout: 4 * timeouts.tool + timeouts.serverReady + timeouts.driverReady + timeouts.session },
  );

  after(async () => {
    await app?.close();
    await stopProcess(server?.proc);
    await temp?.remove();
  });

  it('syncs and verifies a large log, filters it and proves an entry', { timeout: timeouts.ui * 4 }, async () => {
    const { browser } = app;
    await withScreenshots(browser, 'audit-synced', async () => {
      const open = browser.$(byTestId('audit-open'));
      await open.waitForClickable({ timeoutMsg: 'no "Audit trail" button on the connected view (data-testid=audit-open)' });
      await open.click();
      const sync = browser.$(byTestId('audit-sync'));
      await sync.waitForClickable({ timeoutMsg: 'the explorer has no enabled Sync button' });
      await sync.click();
      await browser.waitUntil(async () => (await total(browser)) >= ENTRIES, {
        timeout: timeouts.ui * 2,
        timeoutMsg: `the explorer never showed ${ENTRIES} verified entries after syncing`,
      });
      assert.equal(
        await browser.$(byTestId('audit-alarm')).isExisting(),
        false,
        'an honest log raises no alarm',
      );
      const rows = await browser.$$(byTestId('audit-row'));
      assert.ok(rows.length > 5, 'the table shows rows');
      assert.ok(rows.length < 500, `the table renders a window, not ${ENTRIES} rows (rendered ${rows.length})`);
    });

    const all = await total(browser);
    await withScreenshots(browser, 'audit-filtered', async () => {
      await browser.$(byTestId('audit-filter-action')).selectByAttribute('value', 'demo.key.rotate');
      await browser.waitUntil(async () => {
        const n = await total(browser);
        return n > 0 && n < all;
      }, { timeoutMsg: 'filtering by action never narrowed the matches' });
      let seen = [];
      await browser.waitUntil(async () => {
        // One round trip for every rendered row (including those scrolled out of the window).
        seen = await browser.execute(() =>
          Array.from(document.querySelectorAll('[data-testid="audit-row"]'), (row) => row.textContent ?? ''),
        );
        return seen.length > 0 && seen.every((text) => text.includes('demo.key.rotate'));
      }, { timeoutMsg: 'the rows shown are not all demo.key.rotate entries' }).catch((error) => {
        throw new Error(`${error.message}; rows: ${JSON.stringify(seen.slice(0, 5))}`);
      });
    });

    await withScreenshots(browser, 'audit-entry', async () => {
      const first = browser.$(byTestId('audit-row'));
      const index = await first.getAttribute('data-index');
      await first.click();
      const detail = browser.$(byTestId('audit-detail'));
      await detail.waitForDisplayed({ timeoutMsg: 'clicking a row opened no entry detail' });
      const proof = browser.$(byTestId('audit-proof'));
      await browser.waitUntil(async () => (await proof.getAttribute('data-status')) === 'included', {
        timeoutMsg: `entry ${index}'s proof never showed as included in the signed checkpoint`,
      });
      assert.match(await detail.getText(), /demo\.key\.rotate/, 'the detail shows the entry');
    });
  });

  it('raises the alarm naming the entry when the local copy is edited', { timeout: timeouts.ui * 2 }, async () => {
    const { browser } = app;
    const cache = path.join(configEnv.GATEHOUSE_CONFIG_DIR, 'audit', 'dave.db');
    // Flip the last byte of one entry's leaf, leaving everything else as it was.
    await python(
      [
        'import sqlite3, sys',
        'db = sqlite3.connect(sys.argv[1])',
        `leaf = bytearray(db.execute("SELECT leaf FROM entries WHERE idx = ${TAMPERED}").fetchone()[0])`,
        'leaf[-1] ^= 1',
        `db.execute("UPDATE entries SET leaf = ? WHERE idx = ${TAMPERED}", (bytes(leaf),))`,
        'db.commit()',
      ].join('\n'),
      [cache],
    );
    await withScreenshots(browser, 'audit-alarm', async () => {
      await browser.$(byTestId('audit-verify')).click();
      const alarm = browser.$(byTestId('audit-alarm'));
      await alarm.waitForDisplayed({ timeoutMsg: 'verifying an edited cache raised no alarm banner' });
      assert.equal(await alarm.getAttribute('role'), 'alert', 'the banner is announced as an alert');
      assert.match(
        (await alarm.getText()).replace(/[,\u00a0\u202f ]/g, ''),
        new RegExp(`entry${TAMPERED}`, 'i'),
        'the banner names the edited entry',
      );
    });
  });
});
