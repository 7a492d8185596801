/**
 * Headless Chromium (Debian's package) driven by puppeteer-core for the web
 * page's tests: one launcher, a bounded wait, and a test registrar that
 * reports the test as ignored when Chromium is missing (under `CI=true` a
 * missing Chromium fails instead).
 *
 * @module
 */

import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { type HttpTestServer, startHttpServer } from "./http.ts";
import { prerequisite } from "./prerequisite.ts";

/** Where Debian installs Chromium. */
export const CHROMIUM = "/usr/bin/chromium";

/** Ignored without Chromium (a failure under CI=true). */
const noChromium = prerequisite(
  CHROMIUM,
  (() => {
    try {
      return Deno.statSync(CHROMIUM).isFile;
    } catch {
      return false;
    }
  })(),
);

/** Starts headless Chromium. */
export async function launch(): Promise<Browser> {
  return await puppeteer.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--headless",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run",
    ],
  });
}

/** Whether a host path exists. */
export const exists = (path: string): Promise<boolean> =>
  Deno.stat(path).then(() => true, () => false);

/** A file input as puppeteer drives it. */
export type Uploader = { uploadFile(...paths: string[]): Promise<void> };

/** Waits (bounded) until `check` holds. */
export async function until(
  what: string,
  check: () => Promise<boolean> | boolean,
  ms = 20_000,
): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Registers a test that needs Chromium; `fn` gets a fresh browser. */
export function browserTest(
  name: string,
  fn: (browser: Browser) => Promise<void>,
): void {
  Deno.test({
    name: `${name} (needs chromium)`,
    ignore: noChromium,
    async fn() {
      const browser = await launch();
      try {
        await fn(browser);
      } finally {
        await browser.close();
      }
    },
  });
}

/** What a {@linkcode pageTest} gets: a browser, a server, a scratch folder. */
export interface PageTestContext {
  browser: Browser;
  s: HttpTestServer;
  /** A temporary folder for files to upload. */
  work: string;
}

/** Registers a browser test against a fresh server (no users) and scratch folder. */
export function pageTest(
  name: string,
  fn: (context: PageTestContext) => Promise<void>,
): void {
  browserTest(name, async (browser) => {
    const s = await startHttpServer();
    const work = await Deno.makeTempDir({ prefix: "fts-browser-" });
    try {
      await fn({ browser, s, work });
    } finally {
      await s.cleanup();
      await Deno.remove(work, { recursive: true });
    }
  });
}

/** A page at `width`×`height` in the light or dark scheme. */
export async function openPage(
  browser: Browser,
  width = 1280,
  dark = false,
  height = width < 600 ? 844 : 800,
): Promise<Page> {
  const page = await browser.newPage();
  await page.setViewport({ width, height });
  await page.emulateMediaFeatures([
    { name: "prefers-color-scheme", value: dark ? "dark" : "light" },
  ]);
  page.on("pageerror", (error) => console.error("page error:", error));
  return page;
}

/** Text of the open in-page dialog (title and message). */
export async function dialogText(page: Page): Promise<string> {
  await page.waitForSelector("dialog.fts-dialog[open]");
  return await page.$eval(
    "dialog.fts-dialog[open]",
    (d) => (d as unknown as { innerText: string }).innerText,
  );
}

/** Presses the open dialog's button whose value is `value`; waits until it closed. */
export async function pressDialog(page: Page, value: string): Promise<void> {
  const dialog = await page.waitForSelector("dialog.fts-dialog[open]");
  await page.click(`dialog.fts-dialog[open] button[value="${value}"]`);
  // That dialog, not any: another (an error) may open right after it.
  await page.waitForFunction(
    (d) => !(d as unknown as { isConnected: boolean }).isConnected,
    {},
    dialog,
  );
}

/** Opens a row's menu and picks `act`. */
export async function rowAction(
  page: Page,
  name: string,
  act: string,
): Promise<void> {
  await page.click(`tr[data-name="${name}"] button[data-act="menu"]`);
  await page.waitForSelector(`.menu [data-act="${act}"]`);
  await page.click(`.menu [data-act="${act}"]`);
}
