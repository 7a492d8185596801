/**
 * The web page as a newcomer meets it, in headless Chromium: it fits a
 * 390 px phone, a tablet and a 1280 px desktop in light and dark with no
 * sideways scroll, uploads show percent, rate and time left and can be cancelled,
 * replacing asks first, errors read as sentences, several entries can be
 * selected (zip, move, delete), the filter narrows the rows, the favicon
 * loads, a folder lists without JavaScript, and a missing folder gets a
 * styled page. With `FTS_SCREENSHOTS=1` the layout test rewrites the
 * screenshots in docs/.
 *
 * @module
 */

import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { join } from "@std/path";
import type { Page } from "puppeteer-core";
import { STAGING_DIR } from "../server/storage/remote_path.ts";
import { randomBytes } from "./helpers/cli.ts";
import {
  dialogText,
  exists,
  openPage,
  pageTest,
  pressDialog,
  rowAction,
  until,
  type Uploader,
} from "./helpers/browser.ts";

/** A folder with names long enough to push a careless layout sideways. */
async function plant(root: string): Promise<void> {
  await Deno.mkdir(join(root, "docs"));
  await Deno.mkdir(join(root, "photos from the summer holiday in Portugal"));
  await Deno.writeTextFile(join(root, "docs/readme.txt"), "hello");
  await Deno.writeFile(
    join(root, "a-very-long-file-name-that-goes-on-and-on-2026-12-07.tar.gz"),
    new Uint8Array(123456),
  );
  await Deno.writeTextFile(join(root, "notes.md"), "# notes\n");
  await Deno.writeFile(join(root, "picture.png"), new Uint8Array(34567));
}

/** Evaluates browser-side JavaScript (DOM code, kept out of Deno's types). */
const js = <T>(page: Page, expression: string) =>
  page.evaluate(expression) as Promise<T>;

/** Whether the page scrolls sideways. */
const overflows = (page: Page) =>
  js<boolean>(page, "document.documentElement.scrollWidth > innerWidth");

/** Whether an element's box lies inside the window. */
const inside = (page: Page, selector: string) =>
  js<boolean>(
    page,
    `(() => { const r = document.querySelector(${
      JSON.stringify(selector)
    }).getBoundingClientRect(); return r.left >= 0 && r.right <= innerWidth; })()`,
  );

/** A computed style property of the first element matching `selector`. */
const styleOf = (page: Page, selector: string, property: string) =>
  js<string>(
    page,
    `getComputedStyle(document.querySelector(${
      JSON.stringify(selector)
    })).${property}`,
  );

pageTest(
  "the page fits a 390 px phone, a 768 px tablet and a 1280 px desktop in light and dark with no sideways scroll, a menu per row, a sort list on the phone, and its favicon",
  async ({ browser, s }) => {
    const shots = Deno.env.get("FTS_SCREENSHOTS") === "1";
    await plant(s.root);
    for (const width of [390, 768, 1280]) {
      for (const dark of [false, true]) {
        const page = await openPage(browser, width, dark);
        const failed: string[] = [];
        page.on("response", (r) => {
          if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
        });
        await page.goto(`${s.url}/`);
        await page.waitForSelector('tr[data-name="docs"]');
        const where = `${width} px ${dark ? "dark" : "light"}`;
        assert(!await overflows(page), `no sideways scroll at ${where}`);
        const timeHeader = await styleOf(page, "th.time", "display");
        assertEquals(timeHeader === "none", width < 600, where);
        if (width < 600) {
          // Only the name column shows, so a list sorts by the others.
          await page.select("#sort", "size:-1");
          assertEquals(
            await page.$$eval(
              "#rows tr[data-name]",
              (rows) =>
                rows.map((r) =>
                  (r as unknown as { dataset: { name: string } }).dataset.name
                ),
            ),
            [
              "docs",
              "photos from the summer holiday in Portugal",
              "a-very-long-file-name-that-goes-on-and-on-2026-12-07.tar.gz",
              "picture.png",
              "notes.md",
            ],
          );
          await page.select("#sort", "name:1");
        }
        const favicon = await js<number>(
          page,
          `fetch(document.querySelector("link[rel=icon]").href).then((r) => r.status)`,
        );
        assertEquals(favicon, 200);
        if (shots && width !== 768) {
          const name = width < 600 ? "http_page_phone" : "http_page";
          await page.screenshot({
            path: `docs/${name}_${dark ? "dark" : "light"}.png`,
          });
        }
        // The row menu and a dialog stay inside the window too.
        await page.click(
          'tr[data-name="picture.png"] button[data-act="menu"]',
        );
        await page.waitForSelector(".menu");
        assert(await inside(page, ".menu"), `the menu fits at ${where}`);
        await page.keyboard.press("Escape");
        await page.click("#mkdir");
        await page.waitForSelector("dialog.fts-dialog[open]");
        assert(
          await inside(page, "dialog.fts-dialog[open]"),
          `the dialog fits at ${where}`,
        );
        assert(!await overflows(page), `no sideways scroll with a dialog`);
        await pressDialog(page, "cancel");
        assertEquals(failed, [], `nothing failed to load at ${where}`);
        await page.close();
      }
    }
  },
);

pageTest(
  "uploads show percent, rate and time left per file and for the batch, and Cancel all leaves nothing behind",
  async ({ browser, s, work }) => {
    for (const name of ["one.bin", "two.bin"]) {
      await Deno.writeFile(join(work, name), randomBytes(12 * 1024 * 1024));
    }
    const page = await openPage(browser, 390);
    await page.goto(`${s.url}/`);
    await page.waitForSelector("#rows tr");
    // A slow link, so the figures can be read while the bytes travel.
    const cdp = await page.createCDPSession();
    await cdp.send("Network.enable");
    await cdp.send("Network.emulateNetworkConditions", {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: 1024 * 1024,
    });
    const pick = await page.$("#pick") as unknown as Uploader;
    await pick.uploadFile(join(work, "one.bin"), join(work, "two.bin"));
    const figures = /^\d+% · [\d.]+ [KMG]?i?B\/s · .+ left$/;
    const pattern = JSON.stringify(figures.source);
    await page.waitForFunction(
      `[...document.querySelectorAll(".upload .status")].some((e) => new RegExp(${pattern}).test(e.textContent))`,
      { timeout: 30_000 },
    );
    await page.waitForFunction(
      `new RegExp(${pattern}).test(document.getElementById("batch-status").textContent)`,
      { timeout: 30_000 },
    );
    assertEquals(
      await page.$eval("#batch-title", (e) => e.textContent),
      "Uploading 1 of 2 files",
    );
    assert(!await overflows(page), "the uploads panel fits the phone");
    await page.click("#cancel-all");
    await page.waitForSelector("#uploads", { hidden: true });
    const partial = join(s.root, STAGING_DIR, "partial");
    const staged = async () => {
      const names: string[] = [];
      try {
        for await (const e of Deno.readDir(partial)) names.push(e.name);
      } catch {
        // no staging folder: nothing staged
      }
      return names;
    };
    await until(
      "the staged bytes to be dropped",
      async () => (await staged()).length === 0,
    );
    assert(!await exists(join(s.root, "one.bin")));
    assert(!await exists(join(s.root, "two.bin")));
  },
);

pageTest(
  "uploading over an existing file asks first: Skip keeps it, Replace replaces it",
  async ({ browser, s, work }) => {
    await Deno.writeTextFile(join(s.root, "one.txt"), "old");
    await Deno.writeTextFile(join(work, "one.txt"), "new");
    await Deno.writeTextFile(join(work, "other.txt"), "other");
    const page = await openPage(browser);
    const creations: string[] = [];
    page.on("request", (r) => {
      if (r.method() === "POST" && r.headers()["upload-metadata"]) {
        creations.push(r.headers()["upload-metadata"]);
      }
    });
    await page.goto(`${s.url}/`);
    await page.waitForSelector('tr[data-name="one.txt"]');
    const pick = await page.$("#pick") as unknown as Uploader;
    await pick.uploadFile(join(work, "one.txt"), join(work, "other.txt"));
    assertStringIncludes(await dialogText(page), "“one.txt” already exists");
    await pressDialog(page, "skip");
    await until("the other file", () => exists(join(s.root, "other.txt")));
    assertEquals(await Deno.readTextFile(join(s.root, "one.txt")), "old");
    assertEquals(creations.length, 1, "only other.txt was sent");
    await page.waitForSelector('tr[data-name="other.txt"]');
    await pick.uploadFile(join(work, "one.txt"));
    assertStringIncludes(await dialogText(page), "already exists");
    await pressDialog(page, "replace");
    await until(
      "the replaced file",
      async () => await Deno.readTextFile(join(s.root, "one.txt")) === "new",
    );
  },
);

pageTest(
  "renaming onto an existing name says a file with that name exists",
  async ({ browser, s }) => {
    await Deno.writeTextFile(join(s.root, "a.txt"), "a");
    await Deno.writeTextFile(join(s.root, "b.txt"), "b");
    const page = await openPage(browser, 390);
    await page.goto(`${s.url}/`);
    await page.waitForSelector('tr[data-name="a.txt"]');
    await rowAction(page, "a.txt", "rename");
    await page.waitForSelector("dialog.fts-dialog[open] input");
    await page.$eval(
      "dialog.fts-dialog[open] input",
      (e) => (e as unknown as { value: string }).value = "b.txt",
    );
    await pressDialog(page, "ok");
    const text = await dialogText(page);
    assertStringIncludes(text, "a file or folder with that name exists");
    assert(!text.includes("Overwrite"), text);
    await pressDialog(page, "ok");
    assertEquals(await Deno.readTextFile(join(s.root, "b.txt")), "b");
  },
);

pageTest(
  "the filter narrows the rows, and selected entries download as one zip, move into a folder and delete together",
  async ({ browser, s }) => {
    for (const name of ["a.txt", "b.txt", "c.log"]) {
      await Deno.writeTextFile(join(s.root, name), name);
    }
    await Deno.mkdir(join(s.root, "dest"));
    const page = await openPage(browser);
    await page.goto(`${s.url}/`);
    await page.waitForSelector('tr[data-name="c.log"]');
    await page.type("#filter", "TXT");
    const shown = () =>
      page.$$eval(
        "#rows tr[data-name]",
        (rows) =>
          rows.map((r) =>
            (r as unknown as { dataset: { name: string } }).dataset.name
          ),
      );
    assertEquals(await shown(), ["a.txt", "b.txt"]);
    await page.click("#select-all");
    assertEquals(
      await page.$eval("#selected-count", (e) => e.textContent),
      "2 selected",
    );
    const zipUrl = await page.$eval(
      "#zip-selection",
      (a) => (a as unknown as { href: string }).href,
    );
    const zip = await page.evaluate(
      (url) =>
        fetch(url).then((r) => r.arrayBuffer()).then((b) =>
          new TextDecoder("latin1").decode(b)
        ),
      zipUrl,
    );
    assert(zip.startsWith("PK"), "a zip");
    assert(zip.includes("a.txt") && zip.includes("b.txt"));
    assert(!zip.includes("c.log"), "only the selection");

    await page.click('[data-bulk="move"]');
    await page.waitForSelector("dialog.fts-dialog[open] input");
    await page.type("dialog.fts-dialog[open] input", "dest");
    await pressDialog(page, "ok");
    await until("the move", () => exists(join(s.root, "dest/b.txt")));
    assert(await exists(join(s.root, "dest/a.txt")));

    await page.goto(`${s.url}/dest/`);
    await page.waitForSelector('tr[data-name="a.txt"]');
    await page.click('tr[data-name="a.txt"] input[type="checkbox"]');
    await page.click('tr[data-name="b.txt"] input[type="checkbox"]');
    await page.click('[data-bulk="delete"]');
    assertStringIncludes(await dialogText(page), "Delete 2 items?");
    await pressDialog(page, "ok");
    await until(
      "the delete",
      async () =>
        !await exists(join(s.root, "dest/a.txt")) &&
        !await exists(join(s.root, "dest/b.txt")),
    );
    await page.waitForSelector("#selection", { hidden: true });
  },
);

pageTest(
  "without JavaScript a folder lists as plain links, and a missing folder gets a styled page",
  async ({ browser, s }) => {
    await plant(s.root);
    const page = await openPage(browser, 390);
    await page.setJavaScriptEnabled(false);
    await page.goto(`${s.url}/`);
    const links = await page.$$eval(
      "table.plain a",
      (as) => as.map((a) => a.textContent),
    );
    assert(links.includes("docs/") && links.includes("notes.md"), `${links}`);
    assert(!await overflows(page), "the plain listing fits the phone");
    await Promise.all([page.waitForNavigation(), page.click("text/docs/")]);
    assert(page.url().endsWith("/docs/"));
    assert(
      (await page.$$eval(
        "table.plain a",
        (as) => as.map((a) => a.textContent),
      ))
        .includes("readme.txt"),
    );

    await page.setJavaScriptEnabled(true);
    const missing = await page.goto(`${s.url}/docs/nothing/deeper/`);
    assertEquals(missing?.status(), 404);
    assertEquals(
      await page.$eval("h1", (e) => e.textContent),
      "Nothing is here",
    );
    assertEquals(
      await page.$eval(".problem p", (e) => e.textContent),
      "There is no file or folder at /docs/nothing/deeper.",
    );
    assertEquals(
      await page.$eval(".problem a", (a) => a.getAttribute("href")),
      "/docs/",
      "the link goes to the nearest folder that exists",
    );
    const styled = await styleOf(page, ".problem", "borderRadius");
    assertEquals(styled, "14px", "the page's stylesheet applies");
  },
);
