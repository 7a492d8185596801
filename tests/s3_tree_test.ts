/**
 * Tree transfers through a server of `s3://BUCKET/PREFIX`, against the real
 * gateway (ignored without one; a failure under CI=true): `put -r` takes each
 * file as a store upload, committed only when whole and verified, and the
 * quick check of a rerun sees what the first run stored.
 *
 * @module
 */

import { assert, assertEquals, assertRejects } from "@std/assert";
import { join } from "@std/path";
import { Connection } from "../client/connection.ts";
import type { Reporter } from "../client/reporter.ts";
import { downloadTree } from "../client/tree_download.ts";
import type { TreeOptions } from "../client/tree_progress.ts";
import { uploadTree } from "../client/tree_upload.ts";
import { WrongTypeError } from "../protocol/mod.ts";
import { randomBytes } from "./helpers/cli.ts";
import { plant as plantFile } from "./helpers/plant.ts";
import {
  type S3TestEnv,
  s3TestEnvFor,
  type TestBucket,
  withS3Server,
} from "./helpers/s3.ts";

const env = s3TestEnvFor("s3_tree_test");

const OPTIONS: TreeOptions = { resume: true, noClobber: false, verify: true };

const quiet: Reporter = {
  info: () => {},
  error: () => {},
  progress: () => null,
};

/** Runs `fn` with a bucket, an fts server on it and a connection to it. */
function s3TreeTest(
  name: string,
  fn: (
    t: { bucket: TestBucket; c: Connection; work: string; env: S3TestEnv },
  ) => Promise<void>,
): void {
  Deno.test({
    name,
    ignore: env === null,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: () =>
      withS3Server(env!, async ({ bucket, server, work }) => {
        const c = await Connection.open({
          hostname: "127.0.0.1",
          port: server.addr.port,
        });
        try {
          await fn({ bucket, c, work, env: env! });
        } finally {
          c.abort();
        }
      }),
  });
}

/** S3 keeps modification times to the second. */
const WHOLE_SECOND = new Date("2023-05-06T07:08:09Z");

/** {@linkcode plantFile} with a time S3 keeps exactly. */
function plant(
  root: string,
  path: string,
  data: Uint8Array | string,
  mode = 0o644,
  mtime = WHOLE_SECOND,
): void {
  plantFile(root, path, data, mode, mtime);
}

/** Every file under `root`: mode bits, mtime and bytes; folders by name. */
function describe(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (relative: string) => {
    const host = relative ? join(root, relative) : root;
    for (const entry of Deno.readDirSync(host)) {
      const path = relative ? `${relative}/${entry.name}` : entry.name;
      const info = Deno.statSync(join(root, path));
      if (info.isDirectory) {
        out[path] = "dir";
        visit(path);
      } else {
        const bytes = Deno.readFileSync(join(root, path));
        out[path] = `${(info.mode! & 0o777).toString(8)} ${
          info.mtime!.getTime()
        } ${bytes.byteLength} ${Array.from(bytes.subarray(0, 16)).join(",")}`;
      }
    }
  };
  visit("");
  return out;
}

s3TreeTest(
  "put -r to s3:// then get -r gives back the same tree, and a rerun sends only what changed",
  async ({ bucket, c, work }) => {
    const source = join(work, "src");
    plant(source, "docs/a.txt", "alpha\n", 0o640);
    plant(source, "docs/deep/b.bin", randomBytes(70 * 1024), 0o755);
    // Larger than one part (8 MiB): a multipart upload inside the tree.
    plant(source, "big.bin", randomBytes(9 * 1024 * 1024 + 5));
    for (let i = 0; i < 40; i++) {
      plant(source, `many/f${i}`, randomBytes(i * 50));
    }
    Deno.mkdirSync(join(source, "empty"));
    const expected = describe(source);

    const sent = await uploadTree(c, source, "copy", OPTIONS, quiet);
    assertEquals(sent.failed, 0);
    assertEquals(sent.files, 43);
    // Ordinary objects, where any S3 tool finds them.
    const listing = new TextDecoder().decode(
      await bucket.s3cmd("ls", "-r", `s3://${bucket.bucket}/served/copy/`),
    );
    assert(listing.includes(`s3://${bucket.bucket}/served/copy/docs/a.txt`));
    assert(listing.includes(`s3://${bucket.bucket}/served/copy/big.bin`));

    const back = join(work, "back");
    const got = await downloadTree(c, "copy", back, OPTIONS, quiet);
    assertEquals(got.files, 43);
    assertEquals(describe(back), expected);

    // A changed file and a new one; the rest is up to date by the quick check.
    plant(
      source,
      "docs/a.txt",
      "alpha, changed\n",
      0o600,
      new Date("2024-01-02T03:04:05Z"),
    );
    plant(source, "docs/new.txt", "new\n");
    const rerun = await uploadTree(c, source, "copy", OPTIONS, quiet);
    assertEquals(rerun.files, 2);
    assertEquals(rerun.upToDate, 42);
    const fetched = join(work, "a.txt");
    await bucket.s3cmd(
      "get",
      `s3://${bucket.bucket}/served/copy/docs/a.txt`,
      fetched,
    );
    assertEquals(Deno.readTextFileSync(fetched), "alpha, changed\n");
    const entry = await c.stat("copy/docs/a.txt");
    assertEquals(entry.mtime, new Date("2024-01-02T03:04:05Z").getTime());
    assertEquals(entry.mode, 0o600);
    const again = await uploadTree(c, source, "copy", OPTIONS, quiet);
    assertEquals(again.files, 0);
  },
);

s3TreeTest(
  "put -r to s3:// fails only the file whose name is a folder there",
  async ({ c, work }) => {
    const source = join(work, "src");
    plant(source, "x/clash", "a file where a folder is\n");
    plant(source, "x/fine.txt", "fine\n");
    await c.mkdir("copy/x/clash");
    const lines: string[] = [];
    const error = await assertRejects(
      () =>
        uploadTree(c, source, "copy", OPTIONS, {
          ...quiet,
          error: (line) => void lines.push(line),
        }),
      WrongTypeError,
    );
    assertEquals(error.reason, "1 of 2 files failed");
    assert(lines.some((line) => line.includes("x/clash")), lines.join("\n"));
    assertEquals((await c.stat("copy/x/clash")).type, "dir");
    assertEquals((await c.stat("copy/x/fine.txt")).size, 5);
  },
);
