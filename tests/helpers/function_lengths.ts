/**
 * Measures the functions of a TypeScript source with a `deno lint` plugin
 * run in process (`Deno.lint.runPlugin`, only available under `deno test`):
 * the parser is Deno's own, so strings, template literals and regular
 * expressions never confuse the count.
 *
 * @module
 */

/** One function of a source file and the lines it spans. */
export interface FunctionLength {
  name: string;
  line: number;
  lines: number;
}

type FunctionNode =
  | Deno.lint.FunctionDeclaration
  | Deno.lint.FunctionExpression
  | Deno.lint.ArrowFunctionExpression;

/** The name a function is known by: its own, its variable's, its key's. */
function nameOf(node: FunctionNode): string {
  if (node.type === "FunctionDeclaration" && node.id) return node.id.name;
  const parent = (node as { parent?: Deno.lint.Node }).parent;
  if (
    parent?.type === "VariableDeclarator" && parent.id.type === "Identifier"
  ) {
    return parent.id.name;
  }
  if (
    (parent?.type === "MethodDefinition" || parent?.type === "Property") &&
    (parent.key.type === "Identifier" ||
      parent.key.type === "PrivateIdentifier")
  ) {
    return parent.key.name;
  }
  return "(anonymous)";
}

/** Every function in `source` with at least `minLines` lines. */
export function functionLengths(
  file: string,
  source: string,
  minLines: number,
): FunctionLength[] {
  const found: FunctionLength[] = [];
  const plugin: Deno.lint.Plugin = {
    name: "layout",
    rules: {
      "function-length": {
        create(context) {
          const measure = (node: FunctionNode) => {
            const [start, end] = node.range;
            const text = context.sourceCode.text;
            const lines = text.slice(start, end).split("\n").length;
            if (lines < minLines) return;
            const line = text.slice(0, start).split("\n").length;
            found.push({ name: nameOf(node), line, lines });
          };
          return {
            FunctionDeclaration: measure,
            FunctionExpression: measure,
            ArrowFunctionExpression: measure,
          };
        },
      },
    },
  };
  Deno.lint.runPlugin(plugin, file, source);
  return found;
}
