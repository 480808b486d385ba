#!/usr/bin/env node
// End-to-end test of the examples in a real headless Chromium.
//
// Starts the `login`, `upfront_permissions` and `ciba` example binaries
// (target/debug/examples, built by `cargo build --examples`) on free loopback
// ports, each with its embedded simulator, and clicks through them like a
// user: log in as Kari on the simulator's page, check the session cookie in
// the browser's own cookie jar, log out and press Back, approve a payment,
// log a "TV" in by approving the push on the simulator's phone page, and
// read the pages in Bokmål, Nynorsk and English. Every step leaves a PNG in
// target/browser-screenshots/ (with the examples' logs), and axe-core checks
// that page against WCAG 2.1 A and AA: any violation fails the run, on the
// examples' pages and the simulator's alike.
//
//   usage: node browser/e2e.mjs        (after `npm ci` in browser/)
//   env:   EXAMPLES_DIR  where the example binaries are (default
//                        $CARGO_TARGET_DIR/debug/examples, else target/debug/examples)
//          SCREENSHOT_DIR  (default target/browser-screenshots)
//          CHROMIUM        (default /usr/bin/chromium)
//
// Exits non-zero with the failing step's name on any failure. Every wait has
// a timeout and the whole run has a deadline; the processes it starts are
// stopped on every exit path.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TARGET_DIR = process.env.CARGO_TARGET_DIR ? path.resolve(ROOT, process.env.CARGO_TARGET_DIR) : path.join(ROOT, 'target');
const EXAMPLES_DIR = process.env.EXAMPLES_DIR ?? path.join(TARGET_DIR, 'debug', 'examples');
const SHOTS_DIR = path.resolve(process.env.SCREENSHOT_DIR ?? path.join(ROOT, 'target', 'browser-screenshots'));
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

// axe-core (pinned in package.json) checks every page a screenshot is taken
// of against WCAG 2.1 levels A and AA. Its source is evaluated in the page
// through DevTools, so no page's Content-Security-Policy has to be relaxed.
const AXE_SOURCE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

// Chromium on a machine without network: no sandbox (root in CI), no GPU,
// nothing that phones home. Playwright adds `--headless` and, through
// launchPersistentContext, a `--user-data-dir` we create fresh per browser.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const STEP_TIMEOUT_MS = 15_000; // any single click, navigation or wait
const START_TIMEOUT_MS = 30_000; // an example binary to answer HTTP
const CIBA_TIMEOUT_MS = 45_000; // the TV noticing the approval (the simulator's poll interval is 5 s)
const RUN_DEADLINE_MS = 240_000; // the whole run

// The idle scenario's timeout. The page warns 120 s before the deadline, and
// the layer moves the deadline at most once per tenth of the timeout (one
// store write per active stretch): at 140 s the warning shows 20 s after the
// login, when "Stay logged in" is past that step and really extends.
const IDLE_TIMEOUT_SECS = 140;

const SESSION_COOKIE = 'bankid-session';
const KARI = 'Kari Nordmann';

const children = [];
const browsers = [];
const screenshots = [];
const exampleOrigins = new Set(); // pages from these are the examples' own; any other is the simulator's
const axeFailures = []; // `${page}: ${rule}` for every violation on an example's page
let passed = 0;
let currentStep = 'setup';
let stopping = false;

// ---------------------------------------------------------------- helpers

function check(condition, message) {
  if (!condition) throw new Error(message);
  passed += 1;
  console.log(`  ok - ${message}`);
}

function step(name) {
  currentStep = name;
  console.log(`\n== ${name}`);
}

/** A screenshot of `page` as `name`, and its accessibility check. */
async function shot(page, name) {
  const file = path.join(SHOTS_DIR, `${String(screenshots.length + 1).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true, timeout: STEP_TIMEOUT_MS });
  screenshots.push(file);
  console.log(`  screenshot ${path.relative(ROOT, file)}`);
  await accessibility(page, name);
}

/**
 * Runs axe-core's WCAG 2.1 A+AA rules on `page` as it is now and prints each
 * violation, recorded for the final check: the examples' pages and the
 * simulator's (a front-end team tests against those too).
 */
async function accessibility(page, name) {
  const violations = await axeViolations(page);
  const where = exampleOrigins.has(new URL(page.url()).origin) ? 'example' : 'simulator';
  for (const v of violations) {
    const targets = v.nodes.map((node) => node.target.join(' ')).join(', ');
    console.log(`  AXE VIOLATION (${where} page) ${v.id} [${v.impact}] on ${name}: ${targets}`);
    axeFailures.push(`${name}: ${v.id}`);
  }
  if (violations.length === 0) console.log(`  axe: no WCAG 2.1 A/AA violations on ${name}`);
}

async function axeViolations(page) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(AXE_SOURCE);
  return page.evaluate(
    (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] }).then((r) => r.violations),
    AXE_TAGS,
  );
}

/** A port the kernel just handed out on 127.0.0.1 (closed again for the example to bind). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Polls `probe` until it is true; `hopeless` names a reason to give up at once. */
async function waitFor(what, timeoutMs, probe, hopeless = () => null) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    const reason = hopeless();
    if (reason) throw new Error(`gave up waiting for ${what}: ${reason}`);
    try {
      if (await probe()) return;
    } catch (error) {
      last = error.message;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${last})`);
}

/**
 * Starts target/debug/examples/<name> on a free port, with `extraEnv` and its
 * log under `label`; resolves once it answers `GET /`.
 */
async function startExample(name, options = {}) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startExampleOnce(name, options);
    } catch (error) {
      // The example's own simulator also binds a free port, and can take the
      // one freePort() just handed out before the example binds it.
      if (attempt >= 3 || !error.portTaken) throw error;
      console.log(`  the port was taken before ${name} bound it; trying another`);
    }
  }
}

async function startExampleOnce(name, { label = name, extraEnv = {} } = {}) {
  const binary = path.join(EXAMPLES_DIR, name);
  if (!fs.existsSync(binary)) throw new Error(`${binary} does not exist: run \`cargo build --examples\` first`);
  const port = await freePort();
  const logPath = path.join(SHOTS_DIR, `${label}.log`);
  const log = fs.openSync(logPath, 'w');
  const env = {
    ...process.env,
    ...extraEnv,
    PORT: String(port),
    RUST_LOG: process.env.RUST_LOG ?? 'info,axum_bankid=debug',
  };
  // Always the embedded simulator, never a real provider.
  delete env.BANKID_ENV;
  delete env.BANKID_ISSUER;
  const child = spawn(binary, [], { env, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  children.push(child);
  child.on('exit', (code, signal) => {
    if (!stopping) console.error(`example ${name} exited early (code ${code}, signal ${signal}); log: ${logPath}`);
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitFor(
      `example ${name} on ${base}`,
      START_TIMEOUT_MS,
      async () => (await fetch(`${base}/`, { signal: AbortSignal.timeout(2_000) })).ok,
      () => (child.exitCode !== null || child.signalCode !== null ? `it exited (see ${logPath})` : null),
    );
  } catch (error) {
    error.portTaken = fs.readFileSync(logPath, 'utf8').includes('AddrInUse');
    throw error;
  }
  exampleOrigins.add(base);
  console.log(`  started ${name} on ${base} (log ${path.relative(ROOT, logPath)})`);
  return { name, base, port, logPath };
}

/**
 * A fresh Chromium with its own new profile directory: no cookies, no cache;
 * its language (Accept-Language) `locale`.
 */
async function newBrowser(label, { locale = 'en-US' } = {}) {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), `axum-bankid-e2e-${label}-`));
  let context;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1024, height: 768 },
      locale,
      timeout: STEP_TIMEOUT_MS,
    });
  } catch (error) {
    fs.rmSync(userDataDir, { recursive: true, force: true });
    throw new Error(`Chromium (${CHROMIUM}) did not start: ${error.message.split('\n')[0]}`);
  }
  browsers.push({ context, userDataDir });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);
  return context;
}

/**
 * Moves the simulator to another *site* for `page`.
 *
 * The simulator's issuer is `http://127.0.0.1:<port>`, and a site is scheme +
 * registrable host: ports do not count, so app and simulator on 127.0.0.1
 * are two origins of ONE site, and a SameSite cookie would be sent on every
 * hop between them whatever its SameSite value says. To test the real
 * situation (the app on its domain, BankID on another), the DevTools Fetch
 * domain pauses the app's responses and, in a redirect to the simulator's
 * `/authorize`, changes the host `127.0.0.1` to `localhost` — a different
 * site. Only that Location header is replaced: Chromium has already stored
 * the response's cookies itself (DevTools is not even shown the Set-Cookie
 * header at this stage), so the cookie checks below see what the browser
 * made of the app's real header. From there on nothing is faked: the
 * login page comes from localhost, its form posts there, and the simulator's
 * own 303 back to the app's callback is a top-level cross-site navigation,
 * on which the browser decides by itself which cookies to send.
 * (Playwright's `route` cannot do this: it never sees redirect hops.)
 */
async function moveProviderToLocalhost(page, app) {
  const cdp = await page.context().newCDPSession(page);
  cdp.on('Fetch.requestPaused', (event) => {
    const headers = event.responseHeaders ?? [];
    const location = headers.find((h) => h.name.toLowerCase() === 'location');
    const target = location && new URL(location.value, event.request.url);
    const toSimulator =
      target && target.hostname === '127.0.0.1' && target.port !== String(app.port) && target.pathname === '/authorize';
    if (!toSimulator) {
      cdp.send('Fetch.continueResponse', { requestId: event.requestId }).catch(() => {});
      return;
    }
    target.hostname = 'localhost';
    const rewritten = headers.map((h) => (h === location ? { name: h.name, value: target.href } : h));
    cdp
      .send('Fetch.fulfillRequest', {
        requestId: event.requestId,
        responseCode: event.responseStatusCode,
        responseHeaders: rewritten,
        body: '',
      })
      .catch((error) => console.error(`  could not rewrite the redirect to the provider: ${error.message}`));
  });
  await cdp.send('Fetch.enable', { patterns: [{ urlPattern: `${app.base}/*`, requestStage: 'Response' }] });
}

const onProvider = (url) => url.hostname === 'localhost' && url.pathname === '/authorize';

async function sessionCookie(context, app) {
  return (await context.cookies(app.base)).find((cookie) => cookie.name === SESSION_COOKIE);
}

/** The per-attempt cookie a login start sets (`bankid-login-<tag>`): it, not a session, binds the attempt. */
async function attemptCookie(context, app) {
  return (await context.cookies(app.base)).find((cookie) => cookie.name.startsWith('bankid-login-'));
}

function cookieValue(cookieHeader, name) {
  for (const part of (cookieHeader ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return undefined;
}

// ---------------------------------------------------------------- scenarios

/** Items 1–3: log in through the simulator, check the cookie, log out, press Back. */
async function loginScenario(app) {
  step('login: start page');
  const context = await newBrowser('login');
  const page = context.pages()[0] ?? (await context.newPage());
  await moveProviderToLocalhost(page, app);

  await page.goto(`${app.base}/`);
  check(await page.getByText('You are not logged in').isVisible(), 'the start page says nobody is logged in');
  const cssLink = page.locator('link[rel="stylesheet"]');
  check((await cssLink.getAttribute('href')) === '/assets/app.css', 'the page uses the shared stylesheet');
  check(
    await page.evaluate(() => getComputedStyle(document.querySelector('.topbar')).backgroundColor !== 'rgba(0, 0, 0, 0)'),
    'the stylesheet applied (the header has its background)',
  );
  await shot(page, 'login-start');

  // A SameSite=Strict cookie of the app: the control. Strict cookies are never
  // sent on a navigation that another site started, so seeing it missing on the
  // callback proves the trip through the provider really was cross-site.
  await context.addCookies([{ name: 'e2e-strict-canary', value: '1', url: app.base, sameSite: 'Strict' }]);

  step('login: the simulator page (on another site)');
  await page.getByRole('link', { name: 'Log in with BankID' }).click();
  await page.waitForURL(onProvider);
  check((await sessionCookie(context, app)) === undefined, 'starting a login creates no session');
  const flowCookie = await attemptCookie(context, app);
  check(flowCookie !== undefined, 'the login route set its per-attempt cookie before leaving for the provider');
  check(flowCookie.httpOnly === true, 'the attempt cookie is HttpOnly');
  check(flowCookie.sameSite === 'Lax', 'the attempt cookie is SameSite=Lax');
  check(flowCookie.path === '/', 'the attempt cookie is for the whole app (Path=/)');
  await shot(page, 'simulator-login');

  step('login: pick Kari and approve');
  const callback = page.waitForRequest((request) => new URL(request.url()).pathname === '/auth/bankid/callback');
  const meResponse = page.waitForResponse((response) => response.url() === `${app.base}/me`);
  await page.getByLabel(KARI).check();
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  await page.waitForURL(`${app.base}/me`);

  const callbackHeaders = await (await callback).allHeaders();
  check(
    callbackHeaders['sec-fetch-site'] === 'cross-site',
    `the browser saw the provider's redirect to the callback as cross-site (Sec-Fetch-Site: ${callbackHeaders['sec-fetch-site']})`,
  );
  check(
    cookieValue(callbackHeaders.cookie, 'e2e-strict-canary') === undefined,
    'a SameSite=Strict cookie was NOT sent on that cross-site redirect (control)',
  );
  check(
    cookieValue(callbackHeaders.cookie, flowCookie.name) === flowCookie.value,
    'the SameSite=Lax attempt cookie survived the redirect chain through the provider to the callback',
  );

  step('login: /me shows the verified user');
  check((await page.locator('#name').innerText()) === KARI, `/me shows the name ${KARI}`);
  check((await page.locator('#loa').innerText()) === 'LOA 3', '/me shows LOA 3');
  check((await page.locator('#account').innerText()).includes('urn:bankid:bis;LOA=3'), '/me shows the acr');
  const cacheControl = (await meResponse).headers()['cache-control'] ?? '';
  check(/no-store/.test(cacheControl) && /private/.test(cacheControl), `/me is sent with Cache-Control: ${cacheControl}`);
  check(
    !(await page.evaluate(() => document.cookie)).includes(SESSION_COOKIE),
    "the page's JavaScript cannot read the session cookie (document.cookie)",
  );
  const loggedIn = await sessionCookie(context, app);
  check(loggedIn?.httpOnly === true && loggedIn?.sameSite === 'Lax', 'the logged-in session cookie is HttpOnly and SameSite=Lax');
  await shot(page, 'me-logged-in');

  step('login: log out, then press Back');
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.waitForURL(`${app.base}/`);
  check(await page.getByText('You are not logged in').isVisible(), 'after logout the start page says nobody is logged in');
  await shot(page, 'logged-out');

  // History is now [start, provider, /me, start]; Back goes to /me. A page the
  // browser kept (HTTP cache or back/forward cache) would show Kari's data
  // again; with `no-store` it must ask the app, which sends it to log in.
  await page.goBack({ waitUntil: 'load' });
  await page.waitForURL((url) => onProvider(url) || url.href === `${app.base}/me`);
  check((await page.locator('#account').count()) === 0, "Back after logout does not show the user's details");
  check(onProvider(new URL(page.url())), 'Back after logout lands on the BankID login prompt instead');
  check((await page.locator('form[action="/authorize"] input[name="request"]').count()) === 1, 'the login prompt is a fresh login form');
  await shot(page, 'back-after-logout');

  step('login: cancelling at the provider shows a styled error page');
  await page.goto(`${app.base}/`);
  await page.getByRole('link', { name: 'Log in with BankID' }).click();
  await page.waitForURL(onProvider);
  await page.getByRole('button', { name: 'Cancel', exact: true }).click();
  await page.waitForURL((url) => url.href.startsWith(`${app.base}/auth/bankid/callback`));
  check((await page.locator('h1').innerText()) === 'Login cancelled', 'the error page says the login was cancelled');
  check((await page.locator('.error-code code').innerText()) === 'access_denied', 'the error page shows the stable error code');
  check((await page.locator('link[rel="stylesheet"]').count()) === 1, 'the error page uses the shared stylesheet');
  await shot(page, 'login-cancelled');
  await page.goto(`${app.base}/`);
  check(await page.getByText('You are not logged in').isVisible(), 'a cancelled login leaves nobody logged in');
}

/**
 * The idle warning (WCAG 2.2.1): with a short idle timeout the page warns
 * once fewer than 120 s are left, and "Stay logged in" (a POST to the
 * session status route) extends the login and removes the warning.
 */
async function idleScenario(app) {
  step('idle: a logged-in page warns before the idle logout');
  // In Nynorsk: the script takes its texts from the page.
  const context = await newBrowser('idle', { locale: 'nn-NO' });
  const page = context.pages()[0] ?? (await context.newPage());
  await moveProviderToLocalhost(page, app);
  await page.goto(`${app.base}/`);
  await page.getByRole('link', { name: 'Logg inn med BankID' }).click();
  await page.waitForURL(onProvider);
  await page.getByLabel(KARI).check();
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  await page.waitForURL(`${app.base}/me`);
  const warning = page.locator('#session-warning');
  await warning.getByText('Du blir logga ut om').waitFor({ timeout: (IDLE_TIMEOUT_SECS - 120 + 10) * 1000 });
  check((await warning.getAttribute('role')) === 'alert', 'the idle warning is announced to screen readers (role=alert)');
  await shot(page, 'idle-warning');

  step('idle: "Hald fram innlogga" ("stay logged in") extends the login');
  await page.getByRole('button', { name: 'Hald fram innlogga' }).click();
  await warning.waitFor({ state: 'hidden', timeout: 5_000 });
  check(await warning.isHidden(), '"Hald fram innlogga" extended the login and the warning went away');
  await page.goto(`${app.base}/me`);
  check((await page.locator('#name').innerText()) === KARI, 'still logged in after the warning');
}

/** The shop: approve exactly one payment with BankID (upfront permission). */
async function paymentScenario(app) {
  step('shop: basket');
  const context = await newBrowser('shop');
  const page = context.pages()[0] ?? (await context.newPage());
  await moveProviderToLocalhost(page, app);

  await page.goto(`${app.base}/`);
  await shot(page, 'shop-basket');
  await page.getByRole('link', { name: /Pay 123\.45 NOK/ }).click();
  await page.waitForURL(onProvider);
  check(await page.getByText('You are asked to approve').isVisible(), 'the simulator shows the payment to approve');
  check((await page.locator('.permission pre').innerText()).includes('Nordmann Sko AS'), 'the statement names the creditor');
  await shot(page, 'simulator-payment');

  step('shop: approve as Kari');
  await page.getByLabel(KARI).check();
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  await page.waitForURL((url) => url.href.startsWith(`${app.base}/paid?bankid_flow=`));
  check(await page.getByText(`${KARI} approved with BankID at LOA 3.`).isVisible(), 'the shop shows the approved payment at LOA 3');
  await shot(page, 'shop-paid');

  step('shop: the language switch keeps the flow reference');
  await page.getByRole('navigation').getByRole('link', { name: 'Nynorsk' }).click();
  await page.waitForURL((url) => url.searchParams.get('lang') === 'nn');
  check(new URL(page.url()).searchParams.has('bankid_flow'), 'switching the language keeps bankid_flow in the URL');
  check(await page.getByText(`${KARI} godkjende med BankID på LOA 3.`).isVisible(), 'the approved payment, in Nynorsk');
  await shot(page, 'shop-paid-nn');
  await page.getByRole('navigation').getByRole('link', { name: 'English' }).click();
  await page.waitForURL((url) => url.searchParams.get('lang') === 'en');

  step('shop: reviewing spends nothing; confirming pays once');
  const paidUrl = page.url();
  const review = await page.reload();
  check(review.status() === 200, `reloading the review spends nothing (HTTP ${review.status()})`);
  await page.getByRole('button', { name: 'Confirm payment' }).click();
  await page.getByText('Paid 123.45 NOK to Nordmann Sko AS.').waitFor({ timeout: STEP_TIMEOUT_MS });
  await shot(page, 'shop-payment-sent');

  step('shop: confirming again does not pay twice');
  // The same browser (its cookies) posts the confirmation a second time.
  const second = await page.request.post(paidUrl, { maxRedirects: 0 });
  check(second.status() === 403, `a second confirmation is refused (HTTP ${second.status()})`);
  check(!(await second.text()).includes('Paid 123.45 NOK'), 'no second payment');
  // Back to the review: the approval is spent, so the shop says so instead.
  const back = await page.goBack();
  check(back?.status() === 403, `the spent approval is not shown for review again (HTTP ${back?.status()})`);
  check((await page.locator('.error-code code').innerText()) === 'permission_not_granted', 'the shop shows the stable error code');
  check((await page.getByRole('button', { name: 'Confirm payment' }).count()) === 0, 'nothing left to confirm');
  await shot(page, 'shop-paid-twice-refused');
}

/** Item 4: the TV page turns into the logged-in view after approval on the phone. */
async function cibaScenario(app) {
  step('ciba: the TV page');
  const tvContext = await newBrowser('tv');
  const tv = tvContext.pages()[0] ?? (await tvContext.newPage());

  await tv.goto(`${app.base}/`);
  await tv.locator('summary', { hasText: 'Test users' }).click();
  const nnin = (await tv.locator('li', { hasText: KARI }).locator('code').innerText()).trim();
  check(/^\d{11}$/.test(nnin), `the TV page lists ${KARI}'s test number`);
  await tv.locator('#nnin').fill(nnin);
  await shot(tv, 'tv-start');
  await tv.getByRole('button', { name: 'Log in with BankID on my phone' }).click();
  const binding = tv.locator('#binding');
  await binding.waitFor({ state: 'visible' });
  const bindingMessage = (await binding.innerText()).trim();
  check(bindingMessage.length > 0, `the TV shows the binding message "${bindingMessage}"`);
  await shot(tv, 'tv-waiting');

  step('ciba: approve on the phone');
  // The phone is another device: its own browser, no cookies of the TV.
  const phoneContext = await newBrowser('phone');
  const phone = phoneContext.pages()[0] ?? (await phoneContext.newPage());
  await phone.setViewportSize({ width: 420, height: 800 });
  const phoneUrl = await tv.locator('#phone').getAttribute('href');
  check(phoneUrl?.includes(`login_hint=${nnin}`), "the TV links the simulator phone of the user it is waiting for");
  await phone.goto(phoneUrl);
  check((await phone.locator('.binding').first().innerText()).trim() === bindingMessage, 'the phone shows the same binding message as the TV');
  await shot(phone, 'phone-request');
  await phone.getByRole('button', { name: 'Approve' }).first().click();
  await phone.getByRole('heading', { name: 'Approved' }).waitFor();
  await shot(phone, 'phone-approved');

  step('ciba: the TV turns into the logged-in view');
  await tv.waitForURL(`${app.base}/me`, { timeout: CIBA_TIMEOUT_MS });
  check((await tv.locator('#name').innerText()) === KARI, `the TV shows ${KARI} logged in`);
  check((await tv.locator('#loa').innerText()) === 'LOA 3', 'the TV shows LOA 3');
  const cookie = await sessionCookie(tvContext, app);
  check(cookie?.httpOnly === true && cookie?.sameSite === 'Lax', "the TV's session cookie is HttpOnly and SameSite=Lax");
  await shot(tv, 'tv-logged-in');
}

/** The three languages of the examples' pages, with a text from each to look for. */
const LANGUAGES = [
  { lang: 'nb', locale: 'nb-NO', name: 'Bokmål', logIn: 'Logg inn med BankID', nameLabel: 'Navn', cancelled: 'Innloggingen ble avbrutt' },
  { lang: 'nn', locale: 'nn-NO', name: 'Nynorsk', logIn: 'Logg inn med BankID', nameLabel: 'Namn', cancelled: 'Innlogginga vart avbroten' },
  { lang: 'en', locale: 'en-GB', name: 'English', logIn: 'Log in with BankID', nameLabel: 'Name', cancelled: 'Login cancelled' },
];

async function htmlLang(page) {
  return page.locator('html').getAttribute('lang');
}

/**
 * The pages in Bokmål, Nynorsk and English: Accept-Language chooses (by
 * q-value), the header's language switch overrides and is remembered, and
 * the crate's error page follows too.
 */
async function languageScenario(app) {
  step('languages: Accept-Language chooses the language of the pages');
  const negotiations = [
    ['nb-NO,nb;q=0.9,en;q=0.5', 'nb'],
    ['no', 'nb'],
    ['nn-NO,nn;q=0.9,nb;q=0.8', 'nn'],
    ['de-DE,en;q=0.5,nn;q=0.7', 'nn'],
    ['nb;q=0,en', 'en'],
    ['de,fr;q=0.9', 'en'],
    ['*', 'en'],
  ];
  for (const [acceptLanguage, lang] of negotiations) {
    const response = await fetch(`${app.base}/`, { headers: { 'accept-language': acceptLanguage } });
    const html = await response.text();
    check(html.startsWith(`<!doctype html><html lang="${lang}">`), `Accept-Language: ${acceptLanguage} gets <html lang="${lang}">`);
    check(/accept-language/i.test(response.headers.get('vary') ?? ''), `that answer varies with Accept-Language`);
  }

  for (const l of LANGUAGES) {
    const context = await newBrowser(`start-${l.lang}`, { locale: l.locale });
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(`${app.base}/`);
    check((await htmlLang(page)) === l.lang, `a browser set to ${l.locale} gets the start page in <html lang="${l.lang}">`);
    check(await page.getByRole('link', { name: l.logIn }).isVisible(), `the start page says "${l.logIn}"`);
    const current = page.getByRole('navigation').getByRole('link', { name: l.name });
    check((await current.getAttribute('aria-current')) === 'true', `the language switch marks ${l.name} as the current language`);
    await shot(page, `start-${l.lang}`);
    await context.close();
  }

  step('languages: the error page in Bokmål');
  const nb = LANGUAGES[0];
  const context = await newBrowser('languages', { locale: nb.locale });
  const page = context.pages()[0] ?? (await context.newPage());
  await moveProviderToLocalhost(page, app);
  await page.goto(`${app.base}/`);
  await page.getByRole('link', { name: nb.logIn }).click();
  await page.waitForURL(onProvider);
  await page.getByRole('button', { name: 'Cancel', exact: true }).click();
  await page.waitForURL((url) => url.href.startsWith(`${app.base}/auth/bankid/callback`));
  check((await htmlLang(page)) === 'nb', 'the crate error page follows Accept-Language (<html lang="nb">)');
  check((await page.locator('h1').innerText()) === nb.cancelled, `the error page says "${nb.cancelled}"`);
  check((await page.locator('.error-code code').innerText()) === 'access_denied', 'the stable error code is the same in every language');
  await shot(page, 'login-cancelled-nb');

  step('languages: /me in each language through the switch');
  await page.goto(`${app.base}/`);
  await page.getByRole('link', { name: nb.logIn }).click();
  await page.waitForURL(onProvider);
  await page.getByLabel(KARI).check();
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  await page.waitForURL(`${app.base}/me`);
  for (const l of LANGUAGES) {
    if (l !== nb) {
      await page.getByRole('navigation').getByRole('link', { name: l.name }).click();
      await page.waitForURL(`${app.base}/me?lang=${l.lang}`);
    }
    check((await htmlLang(page)) === l.lang, `/me in <html lang="${l.lang}">`);
    check((await page.locator('#account dt').first().innerText()) === l.nameLabel, `/me labels the name "${l.nameLabel}"`);
    check((await page.locator('#name').innerText()) === KARI, `/me in ${l.name} shows ${KARI}`);
    await shot(page, `me-${l.lang}`);
  }
  // The browser still asks for Bokmål; the switch's choice (English) wins.
  await page.goto(`${app.base}/me`);
  check((await htmlLang(page)) === 'en', 'the switch is remembered over Accept-Language on the next page');
}

/** No ID token, access token or other JWT may reach the examples' logs. */
function scanLogs(apps) {
  step('logs: no tokens');
  for (const app of apps) {
    const text = fs.readFileSync(app.logPath, 'utf8');
    check(!/eyJ[A-Za-z0-9_-]{10,}\./.test(text), `no JWT in the ${app.name} log`);
  }
}

// ---------------------------------------------------------------- run

async function stopAll() {
  stopping = true;
  for (const { context, userDataDir } of browsers.splice(0)) {
    await context.close().catch(() => {});
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  }
}

/** Last resort on any exit (deadline, signal): the examples and the profiles. */
function killChildrenNow() {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  for (const { userDataDir } of browsers) fs.rmSync(userDataDir, { recursive: true, force: true });
}

process.on('exit', killChildrenNow);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    console.error(`\nbrowser e2e: stopped by ${signal}`);
    process.exit(1); // the exit handler stops the examples; Playwright stops Chromium
  });
}

async function main() {
  fs.rmSync(SHOTS_DIR, { recursive: true, force: true });
  fs.mkdirSync(SHOTS_DIR, { recursive: true });
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} does not exist: apt-get install -y chromium`);

  step('start the examples');
  const login = await startExample('login');
  const shop = await startExample('upfront_permissions');
  const tv = await startExample('ciba');
  const idle = await startExample('login', { label: 'login-idle', extraEnv: { IDLE_TIMEOUT_SECS: String(IDLE_TIMEOUT_SECS) } });

  await loginScenario(login);
  await languageScenario(login);
  await idleScenario(idle);
  await paymentScenario(shop);
  await cibaScenario(tv);
  scanLogs([login, shop, tv, idle]);

  step('accessibility: axe-core, WCAG 2.1 A and AA, on every page of the examples and the simulator');
  check(axeFailures.length === 0, `no axe violations on any page visited (${axeFailures.join('; ') || 'none'})`);
}

const deadline = setTimeout(() => {
  console.error(`\nbrowser e2e FAILED: the run took longer than ${RUN_DEADLINE_MS / 1000} s (in step "${currentStep}")`);
  process.exit(1);
}, RUN_DEADLINE_MS);

try {
  await main();
  await stopAll();
  clearTimeout(deadline);
  console.log(`\nscreenshots: ${SHOTS_DIR}`);
  console.log(`browser: ${passed} passed, 0 failed`);
} catch (error) {
  console.error(`\nbrowser e2e FAILED in step "${currentStep}": ${error.message}`);
  let n = 0;
  for (const { context } of browsers) {
    for (const page of context.pages()) {
      n += 1;
      const file = path.join(SHOTS_DIR, `failure-${n}.png`);
      await page.screenshot({ path: file, fullPage: true, timeout: 5_000 }).catch(() => {});
      console.error(`  failure screenshot ${file} (at ${page.url()})`);
    }
  }
  console.error(`  example logs and screenshots: ${SHOTS_DIR}`);
  await stopAll();
  clearTimeout(deadline);
  console.log(`browser: ${passed} passed, 1 failed`);
  process.exitCode = 1;
}
