/**
 * Keeps the benchmark from rotting: runs `bench/bench.ts --quick` as a
 * subprocess and checks it exits 0 and writes a JSON report with every case,
 * raw samples for the cases that ran, and no temp dirs left behind.
 *
 * @module
 */

import { assert, assertEquals } from "@std/assert";
import { fromFileUrl, join } from "@std/path";

const BENCH = fromFileUrl(
  new URL("../bench/bench.ts", import.meta.url),
) as string;

/** Case ids the report must list, in order. */
const CASES = [
  "put-file",
  "get-file",
  "put-file-tls",
  "get-file-tls",
  "tree-put",
  "tree-get",
  "put-file-disk",
  "get-file-disk",
  "tree-put-disk",
  "tree-get-disk",
  "tree-100k-put",
  "tree-100k-rerun",
  "mem-tree-100k",
  "tree-200k-check",
  "clients",
  "mem-put",
  "mem-clients",
  "startup",
  "put-file-noverify",
  "compress-text",
  "compress-random",
  "delta-put-edits",
  "delta-get-edits",
  "delta-put-insert",
  "delta-put-append",
  "delta-put-unrelated",
  "delta-put-repeated",
  "s3-put-file",
  "s3-get-file",
  "s3-tree-put",
  "http-get-file",
  "http-put-file",
  "mirror-live-edit",
  "mirror-live-delete",
  "mirror-restart",
  "mirror-delete-many",
];

/**
 * Cases that need nothing beyond fts itself (put, get, the live mirror), so
 * they must run.
 */
const ALWAYS_RUN = [
  "put-file",
  "get-file",
  "clients",
  "mem-put",
  "mem-clients",
  "startup",
  "mirror-live-edit",
  "mirror-live-delete",
  "mirror-restart",
  "mirror-delete-many",
];

interface QuickSample {
  warmup: boolean;
  seconds?: number;
  serverPeakKiB?: number | null;
}

interface QuickCase {
  id: string;
  status: string;
  notes: string[];
  contenders: { name: string; fts: boolean; samples: QuickSample[] }[];
  target: { description: string; verdict: string };
}

interface QuickReport {
  date: string;
  quick: boolean;
  runs: number;
  host: { cpuModel: string | null; cores: number };
  deno: { deno: string };
  cases: QuickCase[];
}

Deno.test("bench --quick lists every case, runs each it can once (the basic and mirror ones always), says why it skipped the others, and writes its JSON", async () => {
  const out = await Deno.makeTempDir({ prefix: "bench-quick-test-" });
  // The benchmark's own temp dirs go here, so we can see it removed them.
  const tmp = await Deno.makeTempDir({ prefix: "bench-quick-tmp-" });
  try {
    const result = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", BENCH, "--quick", "--out", out],
      env: { TMPDIR: tmp },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decoder = new TextDecoder();
    const stdout = decoder.decode(result.stdout);
    const stderr = decoder.decode(result.stderr);
    assertEquals(result.code, 0, `bench --quick failed:\n${stdout}\n${stderr}`);
    assert(stdout.includes("Targets"), "the table on stdout lists the targets");

    const files = [...Deno.readDirSync(out)].map((e) => e.name).filter((n) =>
      n.endsWith(".json")
    );
    assertEquals(
      files.length,
      1,
      `one JSON file expected, found ${files.join(", ")}`,
    );
    assert(
      /\d{4}-\d{2}-\d{2}T/.test(files[0]),
      "the file name carries the ISO date",
    );
    const report: QuickReport = JSON.parse(
      await Deno.readTextFile(join(out, files[0])),
    );

    assertEquals(report.quick, true);
    assertEquals(report.runs, 1);
    assert(report.host.cores >= 1);
    assert(report.host.cpuModel, "CPU model read from /proc/cpuinfo");
    assertEquals(report.deno.deno, Deno.version.deno);
    assertEquals(report.cases.map((c) => c.id), CASES);

    for (const c of report.cases) {
      assert(c.target.description, `${c.id} states its target`);
      if (c.status === "skipped") {
        assert(
          !ALWAYS_RUN.includes(c.id),
          `${c.id} must not be skipped: ${c.notes.join("; ")}`,
        );
        assert(c.notes.length > 0, `${c.id} says why it was skipped`);
        // Visible in the test output, so a skipped case is never a silent pass.
        console.log(`skipped ${c.id}: ${c.notes.join("; ")}`);
        continue;
      }
      assertEquals(c.status, "ran", `${c.id}: ${c.notes.join("; ")}`);
      const fts = c.contenders.find((x) => x.fts);
      if (!fts) throw new Error(`${c.id} has no fts contender`);
      const measured = fts.samples.filter((s) => !s.warmup);
      assertEquals(measured.length, 1, `${c.id} ran fts once`);
      const value = c.id.startsWith("mem-")
        ? measured[0].serverPeakKiB
        : measured[0].seconds;
      assert(
        typeof value === "number" && value > 0,
        `${c.id} has a positive sample`,
      );
      // --quick runs no peers.
      assert(
        c.contenders.every((x) => x.fts || x.name === "deno --version"),
        `${c.id} ran no peers`,
      );
    }
    const leftover = [...Deno.readDirSync(tmp)].map((e) => e.name);
    assertEquals(leftover, [], "bench removes its temp dirs");
  } finally {
    await Deno.remove(out, { recursive: true });
    await Deno.remove(tmp, { recursive: true });
  }
});
