// Debian's Chromium as the browser tests drive it: headless, no sandbox (containers), no
// background traffic, nothing downloaded (no network here).
import { chromium } from 'playwright-core';

export function launchChromium(extraArgs = []) {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      ...extraArgs,
    ],
  });
}
