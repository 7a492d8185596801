/**
 * The web page in a real browser: headless Chromium from Debian's packages,
 * driven by puppeteer-core. Browses, uploads a file and a folder, resumes an
 * upload whose connection was cut, downloads, renames, deletes, logs in with
 * SCRAM in the page (and out), and shows no write controls to a read-only user. Reported as
 * ignored without Chromium (a failure under CI=true).
 *
 * @module
 */

import { assert, assertEquals } from "@std/assert";
import { join } from "@std/path";
import puppeteer, { type Browser, type HTTPRequest } from "puppeteer-core";
import { addUser } from "../server/auth/users.ts";
import { startHttpServer } from "./helpers/http.ts";
import { randomBytes } from "./helpers/cli.ts";
import { prerequisite } from "./helpers/prerequisite.ts";

const CHROMIUM = "/usr/bin/chromium";

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

async function launch(): Promise<Browser> {
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

/** Waits (bounded) until `check` holds. */
async function until(
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

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);

Deno.test({
  name:
    "the web page browses, uploads files and folders, resumes a cut upload, downloads, renames and deletes (needs chromium)",
  ignore: noChromium,
}, async () => {
  const s = await startHttpServer();
  const work = await Deno.makeTempDir({ prefix: "fts-browser-" });
  const browser = await launch();
  try {
    await Deno.mkdir(join(s.root, "docs"));
    await Deno.writeTextFile(join(s.root, "docs/readme.txt"), "hello browser");
    const page = await browser.newPage();
    page.on("dialog", (dialog) => {
      // Rename prompts get the new name; confirmations are accepted.
      dialog.accept(dialog.type() === "prompt" ? "renamed.txt" : undefined);
    });
    await page.goto(`${s.url}/`);
    await page.waitForSelector('tr[data-name="docs"]');
    await page.click('tr[data-name="docs"] a[data-act="open"]');
    await page.waitForSelector('tr[data-name="readme.txt"]');
    assert(page.url().endsWith("/docs/"));
    assert(
      (await page.$eval("#crumbs", (e) => e.textContent))!.includes("docs"),
    );

    // Download: the link serves the file's bytes.
    const href = await page.$eval(
      'tr[data-name="readme.txt"] a[download]',
      (a) => (a as unknown as { href: string }).href,
    );
    const downloaded = await page.evaluate(
      (url) => fetch(url).then((r) => r.text()),
      href,
    );
    assertEquals(downloaded, "hello browser");

    // Upload one file.
    await Deno.writeTextFile(join(work, "one.txt"), "uploaded");
    const pick = await page.$("#pick");
    await (pick as unknown as { uploadFile(p: string): Promise<void> })
      .uploadFile(join(work, "one.txt"));
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
    const pickDir = await page.$("#pickdir");
    await (pickDir as unknown as { uploadFile(...p: string[]): Promise<void> })
      .uploadFile(join(work, "tree"));
    await until(
      "the uploaded folder",
      () => exists(join(s.root, "docs/tree/inner/b.txt")),
    );
    assertEquals(await Deno.readTextFile(join(s.root, "docs/tree/a.txt")), "A");

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
    await (pick as unknown as { uploadFile(p: string): Promise<void> })
      .uploadFile(join(work, "big.bin"));
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

    // Rename, then delete.
    await page.waitForSelector(
      'tr[data-name="one.txt"] button[data-act="rename"]',
    );
    await page.click('tr[data-name="one.txt"] button[data-act="rename"]');
    await until("the rename", () => exists(join(s.root, "docs/renamed.txt")));
    assert(!await exists(join(s.root, "docs/one.txt")));
    await page.waitForSelector(
      'tr[data-name="renamed.txt"] button[data-act="delete"]',
    );
    await page.click('tr[data-name="renamed.txt"] button[data-act="delete"]');
    await until(
      "the delete",
      async () => !await exists(join(s.root, "docs/renamed.txt")),
    );
    await page.screenshot({ path: join(work, "page.png") });
  } finally {
    await browser.close();
    await s.cleanup();
    await Deno.remove(work, { recursive: true });
  }
});

Deno.test({
  name:
    "the web page logs in with SCRAM in the browser, shows a read-only user no write controls, and logs out (needs chromium)",
  ignore: noChromium,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "fts-browser-users-" });
  const users = join(dir, "users.json");
  const password = "correct-horse-42";
  await addUser(users, "rob", password, { iterations: 4096, readOnly: true });
  // No --http-allow-basic-insecure: the page's login never sends the password.
  const s = await startHttpServer({ users });
  const browser = await launch();
  try {
    await Deno.writeTextFile(join(s.root, "f.txt"), "x");
    const page = await browser.newPage();
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
    await page.$eval(
      "#login-password",
      (e) => (e as unknown as { value: string }).value = "",
    );
    await page.type("#login-password", password);
    await page.click("#login-go");
    await page.waitForSelector('tr[data-name="f.txt"]');
    assertEquals(passwords, [], "the password never crossed the network");
    assertEquals(await page.$eval("#user", (e) => e.textContent), "rob");
    const visibleWrites = await page.$$eval(
      "#mkdir, #pick, #pickdir, button[data-act=rename], button[data-act=delete]",
      (els) =>
        els.filter((e) =>
          (e as unknown as { offsetParent: unknown }).offsetParent !== null
        ).length,
    );
    assertEquals(visibleWrites, 0);
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
    await browser.close();
    await s.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
});
