/**
 * Names no listing could show (control characters, invalid UTF-8) are
 * refused with one message on both front-ends, and files that already carry
 * such names stay listable: the WebDAV listing stays valid XML, the JSON
 * listing valid JSON, and a tree download still brings the folder.
 *
 * @module
 */

import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { join } from "@std/path";
import { DOMParser } from "@xmldom/xmldom";
import { Connection } from "../client/connection.ts";
import { upload } from "../client/upload.ts";
import { downloadTree } from "../client/tree_download.ts";
import { uploadTree } from "../client/tree_upload.ts";
import { InvalidPathError } from "../protocol/errors.ts";
import { UNSHOWABLE_NAME } from "../server/storage/remote_path.ts";
import { startHttpServer } from "./helpers/http.ts";

const OPTIONS = { resume: false, noClobber: false, verify: true };
const quiet = { info: () => {}, error: () => {}, progress: () => null };

/** The names in the served folder, `.fts` left out. */
async function namesIn(dir: string): Promise<string[]> {
  const names = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name !== ".fts") names.push(entry.name);
  }
  return names.sort();
}

Deno.test("HTTP refuses control characters and invalid UTF-8 in new names with one message, for PUT, MKCOL, MOVE and COPY", async () => {
  const s = await startHttpServer();
  try {
    await Deno.writeTextFile(join(s.root, "ok.txt"), "keep");
    const attempts: [string, RequestInit][] = [
      ["/a%07b.txt", { method: "PUT", body: "x" }],
      ["/tab%09.txt", { method: "PUT", body: "x" }],
      ["/del%7F.txt", { method: "PUT", body: "x" }],
      ["/bad%C3.txt", { method: "PUT", body: "x" }],
      ["/d%01", { method: "MKCOL" }],
      ["/ok.txt", { method: "MOVE", headers: { destination: "/x%1B.txt" } }],
      ["/ok.txt", { method: "COPY", headers: { destination: "/x%0A.txt" } }],
    ];
    for (const [path, init] of attempts) {
      const r = await fetch(`${s.url}${path}`, init);
      assertEquals(r.status, 400, path);
      assertEquals(await r.text(), `${UNSHOWABLE_NAME}\n`);
    }
    assertEquals(await namesIn(s.root), ["ok.txt"]);
    assertEquals(await Deno.readTextFile(join(s.root, "ok.txt")), "keep");
  } finally {
    await s.cleanup();
  }
});

Deno.test("the native protocol refuses the same names with the same message, in put, mkdir, mv, a lone surrogate and inside put -r", async () => {
  const s = await startHttpServer();
  const work = await Deno.makeTempDir({ prefix: "fts-names-" });
  const c = await Connection.open({ hostname: "127.0.0.1", port: s.port });
  try {
    await Deno.writeTextFile(join(work, "f.txt"), "data");
    await Deno.writeTextFile(join(s.root, "ok.txt"), "keep");
    const refused = async (what: () => Promise<unknown>) => {
      const error = await assertRejects(what, InvalidPathError);
      assertStringIncludes(error.message, UNSHOWABLE_NAME);
    };
    await refused(() =>
      upload(c, join(work, "f.txt"), "bell\x07.txt", OPTIONS, quiet)
    );
    await refused(() => c.mkdir("esc\x1b[2J"));
    await refused(() => c.move("ok.txt", "cr\r.txt"));
    await refused(() => c.mkdir("half\ud800"));
    // A tree: the bad name fails alone, the good one arrives.
    const tree = join(work, "tree");
    await Deno.mkdir(tree);
    await Deno.writeTextFile(join(tree, "good.txt"), "g");
    await Deno.writeTextFile(join(tree, "bad\x01.txt"), "b");
    await assertRejects(() => uploadTree(c, tree, "tree", OPTIONS, quiet));
    assertEquals(await namesIn(join(s.root, "tree")), ["good.txt"]);
    assertEquals(await namesIn(s.root), ["ok.txt", "tree"]);
    // The server still serves.
    assertEquals((await c.list("")).length, 2);
  } finally {
    await c.close();
    await s.cleanup();
    await Deno.remove(work, { recursive: true });
  }
});

Deno.test("older files with control characters in their names still list as valid XML and JSON, download with get -r, and can be renamed and removed", async () => {
  const s = await startHttpServer();
  const work = await Deno.makeTempDir({ prefix: "fts-names-" });
  try {
    await Deno.mkdir(join(s.root, "old"));
    await Deno.writeTextFile(join(s.root, "old", "bell\x07.txt"), "1");
    await Deno.writeTextFile(join(s.root, "old", "soh\x01<&>.txt"), "2");
    await Deno.writeTextFile(join(s.root, "old", "plain.txt"), "3");
    const r = await fetch(`${s.url}/old/`, {
      method: "PROPFIND",
      headers: { depth: "1" },
    });
    assertEquals(r.status, 207);
    const xml = await r.text();
    const errors: string[] = [];
    const doc = new DOMParser({
      onError: (level: string, message: string) => {
        if (level !== "warning") errors.push(message);
      },
    }).parseFromString(xml, "application/xml");
    assertEquals(errors, []);
    const names = Array.from(
      doc.getElementsByTagNameNS("DAV:", "displayname"),
      (node) => node.textContent,
    ).sort();
    assertEquals(names, [
      "bell\ufffd.txt",
      "old",
      "plain.txt",
      "soh\ufffd<&>.txt",
    ]);
    assert(xml.includes("/old/bell%07.txt"), xml);
    const json = await fetch(`${s.url}/old/?json`);
    const listed = (await json.json()) as { entries: { name: string }[] };
    assertEquals(listed.entries.map((e) => e.name).sort(), [
      "bell\x07.txt",
      "plain.txt",
      "soh\x01<&>.txt",
    ]);
    const c = await Connection.open({ hostname: "127.0.0.1", port: s.port });
    try {
      await downloadTree(c, "old", join(work, "old"), OPTIONS, quiet);
    } finally {
      await c.close();
    }
    assertEquals(
      await Deno.readTextFile(join(work, "old", "bell\x07.txt")),
      "1",
    );
    // Renamed to a plain name over WebDAV, removed over the native protocol.
    const moved = await fetch(`${s.url}/old/bell%07.txt`, {
      method: "MOVE",
      headers: { destination: "/old/bell.txt" },
    });
    assertEquals(moved.status, 201);
    const d = await Connection.open({ hostname: "127.0.0.1", port: s.port });
    try {
      await d.remove("old/soh\x01<&>.txt");
    } finally {
      await d.close();
    }
    assertEquals(await namesIn(join(s.root, "old")), ["bell.txt", "plain.txt"]);
  } finally {
    await s.cleanup();
    await Deno.remove(work, { recursive: true });
  }
});
