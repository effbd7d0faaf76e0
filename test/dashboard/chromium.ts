/**
 * Debian's chromium as the dashboard tests' peer: launched headless through playwright-core (no
 * browser download), and a {@link PeerAvailability} for describeWithPeer.
 */
import { accessSync, constants } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import type { PeerAvailability } from '../support/describe-with-peer.js';

export const CHROMIUM_PATH = '/usr/bin/chromium';

export function chromiumPeer(): PeerAvailability {
  try {
    accessSync(CHROMIUM_PATH, constants.X_OK);
    return { available: true, reason: '' };
  } catch {
    return { available: false, reason: `no ${CHROMIUM_PATH} (apt-get install chromium)` };
  }
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
}
