/**
 * The web page's files as the server hands them out: every TypeScript
 * module becomes a browser module whose imports all point at files the page
 * is given, the SCRAM client is protocol/scram.ts itself, curl gets a plain
 * listing (no JavaScript needed), and the compiled
 * binary carries every file read at run time (deno.json's `compile` task and
 * the release workflow list them).
 *
 * @module
 */

import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { ASSETS, toBrowserModule } from "../server/http/page/assets.ts";
import { PLAIN_MAX, plainListing } from "../server/http/page/page_html.ts";
import { rawExchange, run, startHttpServer } from "./helpers/http.ts";
import { needsProgram } from "./helpers/prerequisite.ts";

Deno.test("every page module becomes a browser module whose imports are all page files", async () => {
  for (const [name, url] of Object.entries(ASSETS)) {
    if (!name.endsWith(".ts")) continue;
    const js = toBrowserModule(await Deno.readTextFile(url));
    const specifiers = [...js.matchAll(/\b(?:from|import)\s*"([^"]+)"/g)]
      .map((m) => m[1]);
    assert(specifiers.length > 0 || !/^import\b/m.test(js), name);
    for (const specifier of specifiers) {
      assert(
        specifier.startsWith("/?asset=") &&
          specifier.slice("/?asset=".length) in ASSETS,
        `${name} imports ${specifier}`,
      );
    }
    assert(
      !/:\s*(string|number|boolean)\b[,)]/.test(js),
      `${name} has types left`,
    );
  }
  assertEquals(
    ASSETS["scram.ts"].pathname.endsWith("/protocol/scram.ts"),
    true,
  );
});

Deno.test("the page's files are served as JavaScript, CSS and SVG, and a name that is not one is 404", async () => {
  const s = await startHttpServer();
  try {
    const get = async (name: string) => {
      const r = await fetch(`${s.url}/?asset=${name}`);
      await r.body?.cancel();
      return [r.status, r.headers.get("content-type")];
    };
    assertEquals(await get("main.ts"), [200, "text/javascript; charset=utf-8"]);
    assertEquals(await get("page.css"), [200, "text/css; charset=utf-8"]);
    assertEquals(await get("favicon.svg"), [200, "image/svg+xml"]);
    assertEquals((await get("../../../main.ts"))[0], 404);
    const page = await fetch(`${s.url}/`, { headers: { accept: "text/html" } });
    const csp = page.headers.get("content-security-policy")!;
    await page.body?.cancel();
    assertStringIncludes(csp, "script-src 'self'");
    assert(!csp.includes("unsafe-inline"), "no inline script or style");
  } finally {
    await s.cleanup();
  }
});

Deno.test("the compile task and the release workflow include every file the page reads at run time", async () => {
  const task = JSON.parse(await Deno.readTextFile("deno.json")).tasks.compile;
  const workflow = await Deno.readTextFile(".github/workflows/release.yml");
  const root = new URL("../", import.meta.url).pathname;
  const needed = new Set(["server/http/page/static"]);
  for (const url of Object.values(ASSETS)) {
    const path = url.pathname.slice(root.length);
    if (!path.startsWith("server/http/page/static/")) needed.add(path);
  }
  for (const path of needed) {
    assertStringIncludes(task, `--include ${path}`);
    assertStringIncludes(workflow, `--include ${path}`);
  }
});

Deno.test({
  name:
    "curl gets the folder as plain links in the page, with .. above the top folder's children",
  ignore: needsProgram("curl"),
}, async () => {
  const s = await startHttpServer();
  try {
    await Deno.mkdir(`${s.root}/docs`);
    await Deno.writeTextFile(`${s.root}/docs/a <b>.txt`, "x");
    const top = await run("curl", [
      "-sf",
      "-H",
      "accept: text/html",
      `${s.url}/`,
    ]);
    assertStringIncludes(top.stdout, '<a href="docs/">docs/</a>');
    const docs = await run("curl", [
      "-sf",
      "-H",
      "accept: text/html",
      `${s.url}/docs/`,
    ]);
    assertStringIncludes(docs.stdout, '<a href="../">..</a>');
    assertStringIncludes(
      docs.stdout,
      '<a href="a%20%3Cb%3E.txt">a &#60;b&#62;.txt</a>',
    );
  } finally {
    await s.cleanup();
  }
});

Deno.test("a browser refused for its Host name gets the styled error page, which tells nothing about the folders", async () => {
  const s = await startHttpServer();
  try {
    await Deno.mkdir(`${s.root}/secret`);
    const answer = await rawExchange(
      s.server.http!.addr.port,
      "GET /secret/missing/ HTTP/1.1\r\nHost: rebound.example\r\n" +
        "Accept: text/html\r\nConnection: close\r\n\r\n",
    );
    assertStringIncludes(answer.split("\r\n")[0], " 421 ");
    assertStringIncludes(answer, '<div class="card problem">');
    assertStringIncludes(answer, 'href="/">Open the top folder');
    assert(!answer.includes("secret"), "no folder is named");
  } finally {
    await s.cleanup();
  }
});

Deno.test("the plain listing shows at most PLAIN_MAX rows and says how many it left out", () => {
  const entries = Array.from({ length: PLAIN_MAX + 5 }, (_, i) => ({
    name: `f${String(i).padStart(5, "0")}`,
    type: "file" as const,
    size: 1,
    mtime: 0,
    mode: null,
  }));
  const html = plainListing({ path: "big", entries });
  assertEquals(html.split('<td class="name"><a href="f').length - 1, PLAIN_MAX);
  assertStringIncludes(html, "… and 5 more, not shown here");
});
