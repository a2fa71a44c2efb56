// Harness for the WebDriver suite: builds a throwaway Gatehouse deployment, runs gatehouse-server on a
// free port, writes a console config directory with the `gatehouse` CLI, and launches the real console
// window through tauri-driver and Debian's WebKitWebDriver. Every process it starts runs in a process
// group of its own and is stopped by group id when the suite ends, or when node exits.

import { execFile, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { access, constants, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

import { remote } from 'webdriverio';

const execFileAsync = promisify(execFile);

const cacheDir = process.env.GATEHOUSE_CACHE || '/var/cache/gatehouse';
export const targetDir = process.env.CARGO_TARGET_DIR || path.join(cacheDir, 'target');
/** Where gatehouse-server, gatehouse and gatehouse-console were built. */
export const binDir = process.env.GATEHOUSE_BIN_DIR || path.join(targetDir, 'debug');
export const screenshotDir =
  process.env.GATEHOUSE_E2E_SCREENSHOTS || path.join(targetDir, 'e2e-screenshots');
const logRoot = process.env.GATEHOUSE_E2E_LOGS || path.join(targetDir, 'e2e-logs');
const toolsDir = process.env.GATEHOUSE_TOOLS || path.join(cacheDir, 'tools');

const bin = {
  server: path.join(binDir, 'gatehouse-server'),
  cli: path.join(binDir, 'gatehouse'),
  console: process.env.GATEHOUSE_CONSOLE_APP || path.join(binDir, 'gatehouse-console'),
  tauriDriver: process.env.TAURI_DRIVER || path.join(toolsDir, 'bin', 'tauri-driver'),
  webkitDriver: process.env.WEBKIT_WEBDRIVER || '/usr/bin/WebKitWebDriver',
  // Debian's ImageMagick by full path: a `import`/`convert` earlier on PATH may be a stand-in.
  imageMagickImport: '/usr/bin/import',
};

/** Upper bounds for the slow steps. WebKit under Xvfb on 2 cores can take a minute to show a window. */
export const timeouts = {
  tool: 60_000,
  serverReady: 60_000,
  driverReady: 30_000,
  session: 180_000,
  ui: 90_000,
  stop: 10_000,
};

/** The people `gatehouse-server init` creates, and their roles. */
export const people = {
  alice: ['officer'],
  bob: ['officer'],
  carol: ['officer', 'responder'],
  dave: ['compliance'],
  erin: ['admin'],
};

// --- processes ----------------------------------------------------------------------------------------

const running = new Set();
let logDir;

async function runLogDir() {
  if (!logDir) {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    logDir = path.join(logRoot, `${stamp}-${process.pid}`);
    await mkdir(logDir, { recursive: true });
  }
  return logDir;
}

/**
 * Starts a long-running process in a process group of its own, stdout and stderr to a log file.
 * Returns { name, pid, logPath, exited } where `exited` resolves to { code, signal, error }.
 */
export async function startProcess(name, command, args, { env = {}, cwd } = {}) {
  await assertExecutable(command, name);
  const logPath = path.join(await runLogDir(), `${name}.log`);
  const log = createWriteStream(logPath, { flags: 'a' });
  const child = spawn(command, args, {
    cwd,
    // Plain logs: they go to files.
    env: { ...process.env, NO_COLOR: '1', ...env },
    detached: true, // setsid(): the child leads a new process group we can signal as a whole
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  const proc = {
    name,
    pid: child.pid,
    logPath,
    exitInfo: undefined,
    exited: new Promise((resolve) => {
      child.once('error', (error) => resolve({ code: null, signal: null, error }));
      child.once('exit', (code, signal) => resolve({ code, signal }));
    }),
  };
  proc.exited.then((info) => {
    proc.exitInfo = info;
    running.delete(proc);
    setTimeout(() => log.end(), 100);
  });
  running.add(proc);
  return proc;
}

/** Stops a process started by startProcess: SIGTERM to its group, SIGKILL if it lingers. */
export async function stopProcess(proc) {
  if (!proc || proc.exitInfo) return;
  signalGroup(proc, 'SIGTERM');
  const stopped = await Promise.race([proc.exited.then(() => true), sleep(timeouts.stop, false)]);
  if (!stopped) {
    console.error(`${proc.name} (pid ${proc.pid}) ignored SIGTERM for ${timeouts.stop} ms; killing`);
    signalGroup(proc, 'SIGKILL');
    await Promise.race([proc.exited, sleep(timeouts.stop)]);
  }
  // Children that left the group's leader behind (WebKit's helper processes) get the group signal too.
  signalGroup(proc, 'SIGKILL');
}

function signalGroup(proc, signal) {
  try {
    process.kill(-proc.pid, signal);
  } catch (error) {
    if (error.code !== 'ESRCH') throw error;
  }
}

// Last resort when the test process ends without its `after` hooks (a crash, a signal).
process.once('exit', () => {
  for (const proc of running) signalGroup(proc, 'SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    for (const proc of running) signalGroup(proc, 'SIGKILL');
    process.exit(128 + os.constants.signals[signal]);
  });
}

/** Runs a short command to completion; throws with its output when it fails. */
export async function runTool(command, args, { env = {}, name = path.basename(command) } = {}) {
  await assertExecutable(command, name);
  try {
    return await execFileAsync(command, args, {
      env: { ...process.env, ...env },
      timeout: timeouts.tool,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (error) {
    const output = [error.stdout, error.stderr].filter(Boolean).join('\n').trim();
    throw new Error(
      `${name} ${args.join(' ')} failed (${error.code ?? error.signal ?? 'error'})` +
        (output ? `:\n${output}` : ''),
      { cause: error },
    );
  }
}

async function assertExecutable(file, name) {
  try {
    await access(file, constants.X_OK);
  } catch {
    throw new Error(`${name}: ${file} is missing or not executable${buildHint(file)}`);
  }
}

function buildHint(file) {
  if (file === bin.console) return ' (npm --prefix ui run build && cargo build -p gatehouse-console)';
  if (file === bin.server) return ' (cargo build -p gatehouse-server)';
  if (file === bin.cli) return ' (cargo build -p gatehouse-cli)';
  if (file === bin.tauriDriver) return ' (scripts/setup installs it)';
  if (file === bin.webkitDriver) return ' (apt-get install webkit2gtk-driver)';
  return '';
}

/** Polls `probe` until it returns a truthy value; fails early if `proc` exits. */
export async function waitFor(what, probe, { timeout, interval = 200, proc } = {}) {
  const deadline = Date.now() + timeout;
  let lastError;
  while (Date.now() < deadline) {
    if (proc?.exitInfo) {
      const { code, signal, error } = proc.exitInfo;
      throw new Error(
        `${proc.name} exited (${error?.message ?? code ?? signal}) while waiting for ${what}; ` +
          `log: ${proc.logPath}\n${await tail(proc.logPath)}`,
      );
    }
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    await sleep(interval);
  }
  throw new Error(
    `timed out after ${timeout} ms waiting for ${what}` +
      (lastError ? ` (last error: ${lastError.message})` : '') +
      (proc ? `; log: ${proc.logPath}\n${await tail(proc.logPath)}` : ''),
  );
}

async function tail(file, lines = 30) {
  try {
    return (await readFile(file, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Ports on 127.0.0.1 that nothing listens on now, all distinct (held open together while chosen). */
export async function freePorts(count) {
  const servers = await Promise.all(
    Array.from({ length: count }, () => {
      return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve(server));
      });
    }),
  );
  const ports = servers.map((server) => server.address().port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

// --- deployments, server, console config ------------------------------------------------------------

/** `gatehouse-server init` into `dir`; returns the paths the init contract promises. */
export async function initDeployment(dir) {
  await runTool(bin.server, ['init', '--data-dir', dir], { name: 'gatehouse-server init' });
  const deployment = {
    dir,
    config: path.join(dir, 'gatehouse-server.toml'),
    caPem: path.join(dir, 'pki', 'ca.pem'),
    serverPem: path.join(dir, 'pki', 'server.pem'),
    person: (name) => ({
      cert: path.join(dir, 'people', `${name}.pem`),
      key: path.join(dir, 'people', `${name}.key`),
      profile: path.join(dir, 'profiles', `${name}.json`),
    }),
  };
  const alice = deployment.person('alice');
  for (const file of [deployment.config, deployment.caPem, deployment.serverPem, alice.cert, alice.key, alice.profile]) {
    if (!existsSync(file)) throw new Error(`gatehouse-server init did not create ${file}`);
  }
  return deployment;
}

/**
 * Starts `gatehouse-server serve` on a port the OS picks and waits for its ready file.
 * Returns { proc, address, port, url }.
 */
export async function startServer(deployment) {
  const readyFile = path.join(deployment.dir, 'e2e-ready');
  await rm(readyFile, { force: true });
  const proc = await startProcess('gatehouse-server', bin.server, [
    'serve',
    '--config',
    deployment.config,
    '--listen',
    '127.0.0.1:0',
    '--ready-file',
    readyFile,
  ]);
  const address = await waitFor(
    'the server to write its ready file',
    async () => {
      const text = (await readFile(readyFile, 'utf8').catch(() => '')).trim();
      return /:\d+$/.test(text) ? text : undefined;
    },
    { timeout: timeouts.serverReady, proc },
  );
  const port = Number(address.slice(address.lastIndexOf(':') + 1));
  // The server certificate is issued for localhost (the init contract's https://localhost:7443).
  return { proc, address, port, url: `https://localhost:${port}` };
}

/**
 * Writes a console/CLI config directory with two profiles:
 *   alice     imported from the deployment's profile file, pointed at the running server;
 *   wrong-ca  alice's certificate and key, but the CA of `otherDeployment`, so the server's
 *             certificate cannot be trusted.
 * Returns the environment that selects this config directory.
 */
export async function writeConsoleConfig(dir, { deployment, otherDeployment, server, xdgRoot }) {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const env = { GATEHOUSE_CONFIG_DIR: dir, ...xdgEnv(xdgRoot) };
  const alice = deployment.person('alice');
  await runTool(bin.cli, ['profile', 'import', alice.profile, '--name', 'alice', '--server', server.url], {
    env,
    name: 'gatehouse profile import',
  });
  await runTool(
    bin.cli,
    [
      'profile', 'add',
      '--name', 'wrong-ca',
      '--server', server.url,
      '--ca', otherDeployment.caPem,
      '--cert', alice.cert,
      '--key', alice.key,
      '--environment', 'development',
    ],
    { env, name: 'gatehouse profile add' },
  );
  // Preflight: if the CLI cannot reach the server as alice, the window cannot either, and this message
  // is clearer than a UI timeout.
  await runTool(bin.cli, ['whoami', '--profile', 'alice'], { env, name: 'gatehouse whoami (preflight)' });
  return env;
}

/** XDG directories under `root`, so the console's caches and web storage stay in the test's temp dir. */
export function xdgEnv(root) {
  if (!root) return {};
  return {
    XDG_CONFIG_HOME: path.join(root, 'config'),
    XDG_DATA_HOME: path.join(root, 'data'),
    XDG_CACHE_HOME: path.join(root, 'cache'),
    XDG_STATE_HOME: path.join(root, 'state'),
  };
}

/** SHA-256 fingerprint (lowercase hex, no separators) of the first certificate in a PEM file. */
export async function certificateFingerprint(pemFile) {
  const cert = new X509Certificate(await readFile(pemFile));
  return cert.fingerprint256.replaceAll(':', '').toLowerCase();
}

/** Appends `count` labelled demo entries (actions `demo.*`) to the deployment's audit log. */
export async function demoActivity(deployment, count) {
  await runTool(bin.server, ['demo-activity', '--config', deployment.config, '--count', String(count)], {
    name: 'gatehouse-server demo-activity',
  });
}

/** Imports `name`'s profile from the deployment into the console config selected by `env`. */
export async function importProfile(env, deployment, server, name) {
  await runTool(bin.cli, ['profile', 'import', deployment.person(name).profile, '--name', name, '--server', server.url], {
    env,
    name: 'gatehouse profile import',
  });
}

/** Runs a Python 3 snippet (the tests' way to edit a SQLite file behind the app's back). */
export async function python(script, args = []) {
  return runTool('/usr/bin/python3', ['-c', script, ...args], { name: 'python3' });
}

/** A fresh temporary directory; removed by the returned function unless GATEHOUSE_E2E_KEEP=1. */
export async function tempDir(prefix) {
  const dir = await mkdtemp(path.join(os.tmpdir(), `${prefix}-`));
  return {
    dir,
    remove: async () => {
      if (process.env.GATEHOUSE_E2E_KEEP === '1') {
        console.error(`GATEHOUSE_E2E_KEEP=1: leaving ${dir}`);
        return;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

// --- the console window -------------------------------------------------------------------------------

/**
 * Starts a tauri-driver whose environment (inherited by WebKitWebDriver and then by the app) carries
 * `env`, and opens a WebDriver session that launches the console. Returns { browser, close }.
 */
export async function launchConsole(name, env) {
  await assertExecutable(bin.console, 'gatehouse-console');
  const [port, nativePort] = await freePorts(2);
  const driver = await startProcess(
    `tauri-driver-${name}`,
    bin.tauriDriver,
    ['--port', String(port), '--native-port', String(nativePort), '--native-driver', bin.webkitDriver],
    { env },
  );
  let browser;
  try {
    await waitFor(
      'tauri-driver to answer /status',
      async () => (await fetch(`http://127.0.0.1:${port}/status`)).ok,
      { timeout: timeouts.driverReady, proc: driver },
    );
    browser = await remote({
      hostname: '127.0.0.1',
      port,
      logLevel: process.env.GATEHOUSE_E2E_WDIO_LOG || 'warn',
      // One attempt: a retry would launch a second window.
      connectionRetryCount: 0,
      connectionRetryTimeout: timeouts.session,
      waitforTimeout: timeouts.ui,
      waitforInterval: 250,
      // No browserName: tauri-driver maps tauri:options to WebKitWebDriver's browser options.
      capabilities: { 'tauri:options': { application: bin.console } },
    });
  } catch (error) {
    await stopProcess(driver);
    throw new Error(`could not open the console window: ${error.message}; driver log: ${driver.logPath}`, {
      cause: error,
    });
  }
  return {
    browser,
    driver,
    close: async () => {
      // Ending the session closes the app; then the driver (and anything left in its group) goes.
      await Promise.race([browser.deleteSession().catch(() => {}), sleep(timeouts.stop)]);
      await stopProcess(driver);
    },
  };
}

/**
 * Runs `check`, then saves two screenshots named after `name` in screenshotDir: the webview as WebDriver
 * sees it, and the whole X screen (ImageMagick's `import -window root`). On failure the files get a
 * "-failed" suffix and a screenshot error never hides the check's own error.
 */
export async function withScreenshots(browser, name, check) {
  let failed = true;
  try {
    await check();
    failed = false;
  } finally {
    const label = failed ? `${name}-failed` : name;
    try {
      const files = await saveScreenshots(browser, label);
      console.error(`screenshots: ${files.join(', ')}`);
    } catch (error) {
      if (!failed) throw error;
      console.error(`could not save screenshots for ${label}: ${error.message}`);
    }
  }
}

export async function saveScreenshots(browser, label) {
  await mkdir(screenshotDir, { recursive: true });
  // The DOM can be ahead of the pixels: under Xvfb WebKit paints a moment after a change. Wait for two
  // animation frames (one painted after the last change), then a little for the X server's copy.
  await browser
    .execute(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => resolve(true)))))
    .catch(() => {});
  await sleep(500);
  const webview = path.join(screenshotDir, `${label}.webview.png`);
  const screen = path.join(screenshotDir, `${label}.screen.png`);
  await browser.saveScreenshot(webview);
  if (!process.env.DISPLAY) throw new Error('DISPLAY is not set: run the suite under xvfb-run');
  await runTool(bin.imageMagickImport, ['-window', 'root', screen], { name: 'import -window root' });
  return [webview, screen];
}

// --- the virtual PIV card -------------------------------------------------------------------------------

/** The virtual card's program and the directory its readers run in (`scripts/test` starts them). */
export const virtualPiv = {
  binary: process.env.GATEHOUSE_VIRTUAL_PIV || path.join(binDir, 'gatehouse-virtual-piv'),
  dir: process.env.GATEHOUSE_VIRTUAL_PIV_DIR || '',
};

/**
 * Inserts a fresh virtual YubiKey (state in `stateDir`) into a free virtual reader and waits until pcscd
 * lists it. `touchTimeoutSecs` is how long the card blinks for a touch (a YubiKey's 15 s by default).
 * Returns { proc, serial, stateDir }; stopping proc pulls the card.
 */
export async function insertVirtualCard(stateDir, { touchTimeoutSecs = 15 } = {}) {
  if (!virtualPiv.dir) throw new Error('GATEHOUSE_VIRTUAL_PIV_DIR is not set: scripts/test starts the virtual readers');
  const proc = await startProcess('virtual-card', virtualPiv.binary, [
    'card',
    '--dir',
    virtualPiv.dir,
    '--state',
    stateDir,
    '--touch-timeout',
    String(touchTimeoutSecs),
  ]);
  const serial = await waitFor(
    'the virtual card to be ready',
    async () => (await readFile(proc.logPath, 'utf8')).match(/ready serial=(\d+)/)?.[1],
    { timeout: timeouts.tool, proc },
  );
  await waitFor(
    'pcscd to list the virtual card',
    async () => (await runTool(bin.cli, ['device', 'list', '--piv'])).stdout.includes(serial),
    { timeout: timeouts.tool, proc },
  );
  return { proc, serial, stateDir };
}

/** Touches the virtual card as soon as it blinks for a touch (waiting up to 10 s for the blinking). */
export function touchVirtualCard(card) {
  return runTool(virtualPiv.binary, ['touch', '--state', card.stateDir, '--wait', '10'], { name: 'gatehouse-virtual-piv touch' });
}

/** Runs the `gatehouse` CLI; returns { stdout, stderr } or throws with its output. */
export function gatehouseCli(args, env = {}) {
  return runTool(bin.cli, args, { env, name: `gatehouse ${args[0]} ${args[1] ?? ''}`.trim() });
}

/** Runs `gatehouse-server`; returns { stdout, stderr } or throws with its output. */
export function gatehouseServer(args) {
  return runTool(bin.server, args, { name: `gatehouse-server ${args[0]}` });
}

/** SoftHSM2's PKCS#11 module, and the PIN of every test token. */
export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';
export const TOKEN_PIN = '246810';

/** GET `route` from `server` as `person` (mutual TLS); the parsed JSON. */
export async function serverJson(deployment, server, person, route) {
  const who = deployment.person(person);
  const [ca, cert, key] = await Promise.all([readFile(deployment.caPem), readFile(who.cert), readFile(who.key)]);
  return new Promise((resolve, reject) => {
    const request = https.get(`${server.url}${route}`, { ca, cert, key }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => {
        if (response.statusCode !== 200) reject(new Error(`GET ${route}: ${response.statusCode} ${body}`));
        else resolve(JSON.parse(body));
      });
    });
    request.on('error', reject);
  });
}

/**
 * Officers whose ledger keys live on SoftHSM2 tokens (`<name>-ledger`, PIN TOKEN_PIN) under `dir`: their profiles
 * (with `people`, e.g. an administrator without a token) are imported into the console config of the env
 * returned, each officer's Ed25519 key is generated on their token and enrolled, and those in `pinMirror` pin the
 * server's mirror. Returns { env, withPin, keys, mirror, approve(name, id) }.
 */
export async function officersOnTokens(dir, deployment, server, { officers, people = [], pinMirror = officers }) {
  const tokens = path.join(dir, 'softhsm-tokens');
  await mkdir(tokens, { recursive: true });
  const softhsmConf = path.join(dir, 'softhsm2.conf');
  await writeFile(softhsmConf, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  const env = {
    GATEHOUSE_CONFIG_DIR: path.join(dir, 'console-config'),
    SOFTHSM2_CONF: softhsmConf,
    ...xdgEnv(path.join(dir, 'xdg')),
  };
  const ledger = await serverJson(deployment, server, officers[0], '/v1/ledger');
  if (ledger.mirror.length === 0) throw new Error('the development deployment runs the simulator and its mirror');
  const mirror = ledger.mirror[0];
  for (const name of [...officers, ...people]) await importProfile(env, deployment, server, name);
  const withPin = { ...env, GATEHOUSE_DEVICE_PIN: TOKEN_PIN };
  const keys = {};
  for (const name of officers) {
    const token = `${name}-ledger`;
    await runTool('/usr/bin/softhsm2-util', ['--init-token', '--free', '--label', token, '--pin', TOKEN_PIN, '--so-pin', '12345678'], {
      env,
      name: 'softhsm2-util --init-token',
    });
    const generated = await gatehouseCli(
      ['device', 'keygen', '--module', SOFTHSM_MODULE, '--token', token, '--algorithm', 'ed25519', '--label', `${name} ledger`],
      withPin,
    );
    keys[name] = /key ([0-9a-f]+) on/.exec(generated.stdout)?.[1];
    if (!keys[name]) throw new Error(`no ledger key was generated for ${name}: ${generated.stdout}`);
    await gatehouseCli(['ledger-key', 'enrol', '--profile', name, '--module', SOFTHSM_MODULE, '--token', token, '--key', keys[name]], withPin);
    if (pinMirror.includes(name)) await gatehouseCli(['profile', 'mirror', name, mirror], env);
  }
  const approve = (name, id) =>
    gatehouseCli(
      ['proposal', 'approve', id, '--profile', name, '--module', SOFTHSM_MODULE, '--token', `${name}-ledger`, '--key', keys[name], '--mirror', mirror],
      withPin,
    );
  return { env, withPin, keys, mirror, approve };
}

/** Chooses the device whose label names `token` among the devices listed inside `scope` (a dialog or the page). */
export async function chooseDevice(browser, scope, token) {
  const label = await browser.waitUntil(
    async () => {
      for (const candidate of await scope.$$('label.device')) {
        if ((await candidate.getText()).includes(token)) return candidate;
      }
      return false;
    },
    { timeoutMsg: `the scan must list ${token}` },
  );
  await label.click();
}
