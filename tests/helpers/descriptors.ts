/**
 * Test helper: how many file descriptors this process has open, counted by a
 * child process (reading `/proc/self/fd` directly needs `--allow-all`).
 *
 * @module
 */

/**
 * Returns the number of descriptors this process has open, the child's pipe
 * included (the same in every call, so counts compare).
 */
export async function openDescriptors(): Promise<number> {
  const { stdout } = await new Deno.Command("sh", {
    args: ["-c", `ls /proc/${Deno.pid}/fd | wc -l`],
    stdout: "piped",
    stderr: "null",
  }).output();
  return Number(new TextDecoder().decode(stdout).trim());
}
