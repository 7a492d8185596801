/**
 * The layout rules of the product code (server/, client/, cli/, transfer/,
 * protocol/, config/, main.ts), read from the files on disk: no function
 * over 100 lines, no import cycles, client/ and server/ never import each
 * other, a storage backend's modules are imported only in its folder (and by
 * `server/storage/open.ts`, the one place a backend is chosen), and every
 * module the compiled binary loads at run time (a worker, a dynamic import)
 * is listed with `--include` in deno.json's `compile` task and in the
 * release workflow, the two lists being the same.
 */

import { assert, assertEquals } from "@std/assert";
import { dirname, fromFileUrl, join, normalize } from "@std/path";
import { functionLengths } from "./helpers/function_lengths.ts";

const ROOT = fromFileUrl(new URL("..", import.meta.url));
const PRODUCT_DIRS = [
  "server",
  "client",
  "cli",
  "transfer",
  "protocol",
  "config",
];
const MAX_FUNCTION_LINES = 100;
/** Repository-relative paths of every product module. */
async function productFiles(): Promise<string[]> {
  const files: string[] = ["main.ts"];
  const visit = async (dir: string) => {
    for await (const entry of Deno.readDir(join(ROOT, dir))) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) await visit(path);
      else if (entry.isFile && path.endsWith(".ts")) files.push(path);
    }
  };
  for (const dir of PRODUCT_DIRS) await visit(dir);
  return files.sort();
}

/** One import of a module: its target (repository-relative) and kind. */
interface Import {
  target: string;
  typeOnly: boolean;
}

/** The relative imports and re-exports of `file` (static ones). */
function importsOf(file: string, source: string): Import[] {
  const found: Import[] = [];
  const pattern =
    /^\s*(import|export)\s+(type\s+)?(?:[^"';]*?\s+from\s+)?["'](\.{1,2}\/[^"']+)["']/gm;
  for (const match of source.matchAll(pattern)) {
    found.push({
      target: normalize(join(dirname(file), match[3])),
      typeOnly: match[2] !== undefined,
    });
  }
  return found;
}

/**
 * What `file` loads at run time: modules it starts as workers or imports
 * dynamically, and files or folders it reaches by `import.meta.url` (the
 * web page's static files, say). A folder ends with `/`.
 */
function runtimeLoadsOf(file: string, source: string): string[] {
  const loads: string[] = [];
  const patterns = [
    /new\s+URL\(\s*["'](\.{1,2}\/[^"']*)["']\s*,\s*import\.meta\.url/g,
    /\bimport\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g,
  ];
  for (const pattern of patterns) {
    for (const match of source.matchAll(pattern)) {
      const target = normalize(join(dirname(file), match[1]))
        .replace(/\/$/, "");
      loads.push(match[1].endsWith("/") ? `${target}/` : target);
    }
  }
  return loads;
}

/**
 * The `--include` paths of a `deno compile` command line: files (with an
 * extension) or folders (with a slash); prose such as "--include list" is
 * neither.
 */
function includesOf(text: string): string[] {
  const pattern = /--include[=\s]+([\w.-]+(?:\/[\w.-]+)+\/?|[\w-]+\.\w+)/g;
  return [...text.matchAll(pattern)].map((m) =>
    normalize(m[1]).replace(/\/$/, "")
  ).sort();
}

/**
 * Whether `includes` bring `target` into the binary: the file itself or a
 * folder holding it; for a folder, anything in it (the code picks files).
 */
function covered(target: string, includes: string[]): boolean {
  const folder = target.endsWith("/") ? target : null;
  return includes.some((path) =>
    path === target || target.startsWith(`${path}/`) ||
    (folder !== null &&
      (path === folder.slice(0, -1) || path.startsWith(folder)))
  );
}

const files = await productFiles();
const sources = new Map(
  await Promise.all(
    files.map(async (file) =>
      [file, await Deno.readTextFile(join(ROOT, file))] as const
    ),
  ),
);

Deno.test(`no product function is over ${MAX_FUNCTION_LINES} lines`, () => {
  const long: string[] = [];
  for (const [file, source] of sources) {
    for (
      const { name, line, lines } of functionLengths(
        file,
        source,
        MAX_FUNCTION_LINES + 1,
      )
    ) {
      long.push(`${file}:${line} ${name} (${lines} lines)`);
    }
  }
  assertEquals(long, []);
});

Deno.test("product modules import each other without a cycle", () => {
  // Only imports that load a module at run time: an `import type` is erased,
  // so a cycle through one (a context type named back) costs nothing.
  const graph = new Map<string, string[]>();
  for (const [file, source] of sources) {
    graph.set(
      file,
      importsOf(file, source).filter((i) => !i.typeOnly).map((i) => i.target),
    );
  }
  const cycles: string[] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (file: string) => {
    state.set(file, "open");
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === "open") {
        cycles.push([...stack.slice(stack.indexOf(next)), next].join(" -> "));
      } else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, "done");
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  assertEquals(cycles, []);
});

Deno.test("client/ and server/ never import each other", () => {
  const crossing: string[] = [];
  for (const [file, source] of sources) {
    const side = file.split("/")[0];
    if (side !== "client" && side !== "server") continue;
    const other = side === "client" ? "server/" : "client/";
    for (const { target } of importsOf(file, source)) {
      if (target.startsWith(other)) crossing.push(`${file} -> ${target}`);
    }
  }
  assertEquals(crossing, []);
});

Deno.test("a storage backend's modules are imported only in its folder and by storage/open.ts", () => {
  const leaks: string[] = [];
  const backends = [
    {
      folder: "server/storage/local/",
      modules: [
        "server/storage/local/local_store.ts",
        "server/storage/local/confined_root.ts",
      ],
    },
    { folder: "server/storage/s3/", modules: null },
  ];
  for (const [file, source] of sources) {
    if (file === "server/storage/open.ts") continue;
    for (const { target } of importsOf(file, source)) {
      for (const { folder, modules } of backends) {
        if (file.startsWith(folder) || !target.startsWith(folder)) continue;
        if (modules === null || modules.includes(target)) {
          leaks.push(`${file} -> ${target}`);
        }
      }
    }
  }
  assertEquals(leaks, []);
  // Nor does anything outside a backend test for one.
  for (const [file, source] of sources) {
    if (file.startsWith("server/storage/local/")) continue;
    assert(
      !/instanceof\s+(LocalStore|S3Store)\b/.test(source),
      `${file} tests for a concrete store`,
    );
  }
});

Deno.test("every worker, dynamic import and file read by import.meta.url is in the compile task and the release workflow", async () => {
  const loaded = new Set<string>();
  for (const [file, source] of sources) {
    for (const target of runtimeLoadsOf(file, source)) loaded.add(target);
  }
  assert(loaded.size > 0, "no worker or dynamic import was found");
  const config = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
  const task = config.tasks.compile;
  const compile = includesOf(typeof task === "string" ? task : task.command);
  const workflow = includesOf(
    await Deno.readTextFile(join(ROOT, ".github/workflows/release.yml")),
  );
  for (const target of loaded) {
    assert(covered(target, compile), `deno.json's compile misses ${target}`);
    assert(covered(target, workflow), `release.yml misses ${target}`);
  }
  // The two lists are the same, and every included path exists.
  assertEquals(workflow, compile);
  for (const path of compile) {
    const info = await Deno.stat(join(ROOT, path)).catch(() => null);
    assert(info !== null, `--include ${path} names nothing`);
  }
});

Deno.test("the release workflow's smoke test serves, then puts and gets a file and a tree with the built binary", async () => {
  const workflow = await Deno.readTextFile(
    join(ROOT, ".github/workflows/release.yml"),
  );
  const smoke = workflow.slice(workflow.indexOf("name: Smoke test"));
  for (
    const step of [
      /"\$fts" serve /,
      /"\$fts" connect \S+ put [^-]/,
      /"\$fts" connect \S+ put -r /,
      /"\$fts" connect \S+ get [^-]/,
      /"\$fts" connect \S+ get -r /,
      /cmp /,
      /diff -r /,
    ]
  ) {
    assert(step.test(smoke), `the smoke test lacks ${step.source}`);
  }
});
