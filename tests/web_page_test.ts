/**
 * The web page in a real browser: headless Chromium from Debian's packages,
 * driven by puppeteer-core. Browses, uploads a file and a folder, resumes an
 * upload whose connection was cut, downloads, renames and deletes through
 * the row menu and in-page dialogs, logs in with SCRAM in the page (and
 * out), and shows no write controls to a read-only user. Reported as
 * ignored without Chromium (a failure under CI=true).
 *
 * @module
 */

import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { join } from "@std/path";
import type { HTTPRequest } from "puppeteer-core";
import { addUser } from "../server/auth/users.ts";
import { startHttpServer } from "./helpers/http.ts";
import { randomBytes } from "./helpers/cli.ts";
import {
  browserTest,
  dialogText,
  exists,
  openPage,
  pageTest,
  pressDialog,
  rowAction,
  until,
  type Uploader,
} from "./helpers/browser.ts";

pageTest(
  "the web page browses, uploads files and folders, resumes a cut upload, downloads, renames and deletes",
  async ({ browser, s, work }) => {
    await Deno.mkdir(join(s.root, "docs"));
    await Deno.writeTextFile(
      join(s.root, "docs/readme.txt"),
      "hello browser",
    );
    const page = await openPage(browser);
    await page.goto(`${s.url}/`);
    await page.waitForSelector('tr[data-name="docs"]');
    await page.click('tr[data-name="docs"] a[data-act="open"]');
    await page.waitForSelector('tr[data-name="readme.txt"]');
    assert(page.url().endsWith("/docs/"));
    assert(
      (await page.$eval("#crumbs", (e) => e.textContent))!.includes("docs"),
    );

    // Download: the row menu's link serves the file's bytes.
    await page.click('tr[data-name="readme.txt"] button[data-act="menu"]');
    const href = await page.$eval(
      '.menu a[data-act="download"]',
      (a) => (a as unknown as { href: string }).href,
    );
    // The keyboard moves through the menu.
    await page.keyboard.press("ArrowDown");
    assertEquals(
      await page.evaluate("document.activeElement.dataset.act"),
      "sum",
    );
    await page.keyboard.press("Escape");
    const downloaded = await page.evaluate(
      (url) => fetch(url).then((r) => r.text()),
      href,
    );
    assertEquals(downloaded, "hello browser");

    // Upload one file.
    await Deno.writeTextFile(join(work, "one.txt"), "uploaded");
    const pick = await page.$("#pick") as unknown as Uploader;
    await pick.uploadFile(join(work, "one.txt"));
    await until(
      "the uploaded file",
      () => exists(join(s.root, "docs/one.txt")),
    );
    assertEquals(
      await Deno.readTextFile(join(s.root, "docs/one.txt")),
      "uploaded",
    );

    // Upload a folder.
    await Deno.mkdir(join(work, "tree/inner"), { recursive: true });
    await Deno.writeTextFile(join(work, "tree/a.txt"), "A");
    await Deno.writeTextFile(join(work, "tree/inner/b.txt"), "B");
    const pickDir = await page.$("#pickdir") as unknown as Uploader;
    await pickDir.uploadFile(join(work, "tree"));
    // The page may send the folder's files in any order: wait for both.
    await until(
      "the uploaded folder",
      async () =>
        await exists(join(s.root, "docs/tree/inner/b.txt")) &&
        await exists(join(s.root, "docs/tree/a.txt")),
    );
    assertEquals(
      await Deno.readTextFile(join(s.root, "docs/tree/a.txt")),
      "A",
    );

    // A large upload whose second chunk's connection is cut, then resumed.
    const big = randomBytes(10 * 1024 * 1024 + 99);
    await Deno.writeFile(join(work, "big.bin"), big);
    await page.setRequestInterception(true);
    let patches = 0;
    let cut = false;
    let headsAfterCut = 0;
    const intercept = (request: HTTPRequest) => {
      if (request.method() === "PATCH" && ++patches === 2) {
        cut = true;
        request.abort("connectionreset");
        return;
      }
      if (cut && request.method() === "HEAD") headsAfterCut++;
      request.continue();
    };
    page.on("request", intercept);
    await pick.uploadFile(join(work, "big.bin"));
    await until(
      "the resumed upload",
      () => exists(join(s.root, "docs/big.bin")),
      60_000,
    );
    assertEquals(await Deno.readFile(join(s.root, "docs/big.bin")), big);
    assert(cut, "the second PATCH was cut");
    assert(headsAfterCut > 0, "the page asked the server's offset to resume");
    page.off("request", intercept);
    await page.setRequestInterception(false);

    // Rename in an in-page dialog, then delete after confirming.
    await page.waitForSelector('tr[data-name="one.txt"]');
    await rowAction(page, "one.txt", "rename");
    await page.waitForSelector("dialog.fts-dialog[open] input");
    await page.$eval(
      "dialog.fts-dialog[open] input",
      (e) => (e as unknown as { value: string }).value = "",
    );
    await page.type("dialog.fts-dialog[open] input", "renamed.txt");
    await pressDialog(page, "ok");
    await until("the rename", () => exists(join(s.root, "docs/renamed.txt")));
    assert(!await exists(join(s.root, "docs/one.txt")));
    await page.waitForSelector('tr[data-name="renamed.txt"]');
    await rowAction(page, "renamed.txt", "delete");
    assertStringIncludes(await dialogText(page), "renamed.txt");
    await pressDialog(page, "ok");
    await until(
      "the delete",
      async () => !await exists(join(s.root, "docs/renamed.txt")),
    );
  },
);

browserTest(
  "the web page logs in with SCRAM in the browser, shows a read-only user no write controls, and logs out",
  async (browser) => {
    const dir = await Deno.makeTempDir({ prefix: "fts-browser-users-" });
    const users = join(dir, "users.json");
    const password = "correct-horse-42";
    await addUser(users, "rob", password, { iterations: 4096, readOnly: true });
    // No --http-allow-basic-insecure: the page's login never sends the password.
    const s = await startHttpServer({ users });
    try {
      await Deno.writeTextFile(join(s.root, "f.txt"), "x");
      const page = await openPage(browser);
      const passwords: string[] = [];
      page.on("request", (request) => {
        if ((request.postData() ?? "").includes(password)) {
          passwords.push(request.url());
        }
      });
      await page.goto(`${s.url}/`);
      await page.waitForSelector("#login:not([hidden])");
      await page.type("#login-name", "rob");
      await page.type("#login-password", "wrong");
      await page.click("#login-go");
      await page.waitForFunction(
        "document.getElementById('login-error').textContent !== ''",
      );
      assertStringIncludes(
        (await page.$eval("#login-error", (e) => e.textContent))!,
        "Wrong user name or password",
      );
      await page.$eval(
        "#login-password",
        (e) => (e as unknown as { value: string }).value = "",
      );
      await page.type("#login-password", password);
      await page.click("#login-go");
      await page.waitForSelector('tr[data-name="f.txt"]');
      assertEquals(passwords, [], "the password never crossed the network");
      assertEquals(await page.$eval("#user", (e) => e.textContent), "rob");
      const visible = (selector: string) =>
        page.$$eval(
          selector,
          (els) =>
            els.filter((e) =>
              (e as unknown as { offsetParent: unknown }).offsetParent !== null
            ).length,
        );
      assertEquals(await visible("#mkdir, .toolbar label.button"), 0);
      await page.click('tr[data-name="f.txt"] input[type="checkbox"]');
      assertEquals(await visible("[data-bulk=delete], [data-bulk=move]"), 0);
      await page.click('tr[data-name="f.txt"] button[data-act="menu"]');
      assertEquals(
        await page.$$eval(
          ".menu [data-act]",
          (els) =>
            els.map((e) =>
              (e as unknown as { dataset: { act: string } }).dataset.act
            ),
        ),
        ["download", "sum"],
      );
      await page.keyboard.press("Escape");
      const refused = await page.evaluate(() =>
        fetch("/g.txt", {
          method: "PUT",
          body: "no",
          headers: { "x-requested-with": "fts" },
        }).then((r) => r.status)
      );
      assertEquals(refused, 403);
      await page.click("#logout");
      await page.waitForSelector("#login:not([hidden])");
      const after = await page.evaluate(() =>
        fetch("/?json", { headers: { "x-requested-with": "fts" } }).then((r) =>
          r.status
        )
      );
      assertEquals(after, 401);
    } finally {
      await s.cleanup();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
