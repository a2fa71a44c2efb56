import path from 'node:path';
import { initDeployment, startServer, writeConsoleConfig, launchConsole, stopProcess, tempDir } from './harness.js';
const temp = await tempDir('probe');
const d = await initDeployment(path.join(temp.dir, 'deployment'));
const o = await initDeployment(path.join(temp.dir, 'other'));
const server = await startServer(d);
const env = await writeConsoleConfig(path.join(temp.dir, 'cfg'), { deployment: d, otherDeployment: o, server, xdgRoot: path.join(temp.dir, 'xdg') });
const app = await launchConsole('probe', { ...env, GATEHOUSE_PROFILE: 'alice' });
let last = '';
const t0 = Date.now();
for (let i = 0; i < 60; i++) {
  const s = await app.browser.execute(() => document.body.innerText.replace(/\s+/g, ' ').slice(0, 90) + ' | loads=' + performance.getEntriesByType('navigation').length + ' t=' + Math.round(performance.now()));
  if (s.split(' | ')[0] !== last) { console.log(Date.now() - t0, s); last = s.split(' | ')[0]; }
  await new Promise(r => setTimeout(r, 300));
}
await app.browser.saveScreenshot('/tmp/probe/final.png');
await app.close(); await stopProcess(server.proc); await temp.remove();
