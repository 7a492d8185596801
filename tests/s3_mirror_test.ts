/**
 * Mirror and watch on a server of `s3://BUCKET/PREFIX`, against the real
 * gateway (registered as ignored, with one printed line, without one):
 * `put -r --delete` removes the objects the source lacks through the
 * storage core (and an entry of another type in the way), `get -r --delete` trims the local copy, and `watch` reports
 * the changes made through the server while saying plainly that objects
 * written by other tools are not seen.
 *
 * @module
 */

import { assertEquals, assertStringIncludes } from "@std/assert";
import { join } from "@std/path";
import { connectFts } from "./helpers/cli.ts";
import { startWatch } from "./helpers/watch_client.ts";
import { plant } from "./helpers/plant.ts";
import { s3TestEnvFor, type TestBucket, withS3Server } from "./helpers/s3.ts";

const env = s3TestEnvFor("s3_mirror_test");

/** Every object's path under the served prefix, from a walk of the store. */
async function paths(bucket: TestBucket, under: string): Promise<string[]> {
  const found: string[] = [];
  for await (const item of bucket.store.walk(under)) {
    if (item.entry?.type === "file") found.push(item.path);
  }
  return found.sort();
}

function s3Test(
  name: string,
  fn: (
    t: { bucket: TestBucket; address: string; work: string },
  ) => Promise<void>,
): void {
  Deno.test({
    name,
    ignore: env === null,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: () =>
      withS3Server(
        env!,
        ({ bucket, server, work }) =>
          fn({ bucket, address: `127.0.0.1:${server.addr.port}`, work }),
      ),
  });
}

s3Test(
  "put -r --delete and get -r --delete mirror an S3 folder both ways",
  async ({ bucket, address, work }) => {
    const src = join(work, "src");
    plant(src, "keep.txt", "keep");
    plant(src, "a/one.txt", "one");
    const first = await connectFts(address, `put -r ${src}/ site`);
    assertEquals(first.code, 0, first.stderr);
    Deno.removeSync(join(src, "a"), { recursive: true });
    plant(src, "b/two.txt", "two");
    const mirror = await connectFts(address, `put -r --delete ${src}/ site`);
    assertEquals(mirror.code, 0, mirror.stderr);
    assertEquals(await paths(bucket, "site"), ["b/two.txt", "keep.txt"]);

    const dst = join(work, "dst");
    plant(dst, "stale.txt", "stale");
    const get = await connectFts(address, `get -r --delete site/ ${dst}`);
    assertEquals(get.code, 0, get.stderr);
    assertEquals(Deno.readTextFileSync(join(dst, "b/two.txt")), "two");
    assertEquals([...Deno.readDirSync(dst)].map((e) => e.name).sort(), [
      "b",
      "keep.txt",
    ]);
  },
);

s3Test(
  "put -r --delete replaces an entry of another type on S3",
  async ({ bucket, address, work }) => {
    const src = join(work, "src");
    plant(src, "x/in.txt", "x was a folder");
    plant(src, "y", "y was a file");
    const first = await connectFts(address, `put -r ${src}/ site`);
    assertEquals(first.code, 0, first.stderr);
    Deno.removeSync(join(src, "x"), { recursive: true });
    plant(src, "x", "x is a file now");
    Deno.removeSync(join(src, "y"));
    plant(src, "y/in.txt", "y is a folder now");
    const mirror = await connectFts(address, `put -r --delete ${src}/ site`);
    assertEquals(mirror.code, 0, mirror.stderr);
    assertEquals(await paths(bucket, "site"), ["x", "y/in.txt"]);
  },
);

s3Test(
  "watch on S3 reports changes made through fts and says what it cannot see",
  async ({ address, work }) => {
    const watch = await startWatch(address);
    const { out, err } = watch;
    try {
      const said = err.lines.find((line) => line.startsWith("watching"))!;
      assertStringIncludes(said, "(fts)");
      assertStringIncludes(said, "not objects written by other tools");
      const source = join(work, "up.txt");
      Deno.writeTextFileSync(source, "through fts");
      const put = await connectFts(address, `put ${source} up.txt`);
      assertEquals(put.code, 0, put.stderr);
      await out.waitFor((line) => JSON.parse(line).path === "up.txt");
      const rm = await connectFts(address, `rm up.txt`);
      assertEquals(rm.code, 0, rm.stderr);
      await out.waitFor((line) => {
        const change = JSON.parse(line);
        return change.event === "deleted" && change.path === "up.txt";
      });
    } finally {
      await watch.stop();
    }
  },
);
