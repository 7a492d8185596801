/**
 * Test helper: how many file descriptors this process has open, counted by a
 * child process (reading `/proc/self/fd` directly needs `--allow-all`), and
 * how many of them are the server's ends of connections to one port.
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

/**
 * How many TCP sockets of this process have local port `port` and are not
 * listening: the server's ends of the connections to that port. Reads
 * `/proc/net/tcp{,6}` and `/proc/self/fd` (needs `--allow-all`).
 */
export function connectionsOn(port: number): number {
  const inodes = new Set<string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = Deno.readTextFileSync(table);
    } catch {
      continue; // No IPv6.
    }
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10) continue;
      const localPort = parseInt(fields[1].split(":")[1], 16);
      const listening = fields[3] === "0A";
      if (localPort === port && !listening) inodes.add(fields[9]);
    }
  }
  let count = 0;
  for (const { name } of Deno.readDirSync("/proc/self/fd")) {
    try {
      const link = Deno.readLinkSync(`/proc/self/fd/${name}`);
      if (inodes.has(/^socket:\[(\d+)\]$/.exec(link)?.[1] ?? "")) count++;
    } catch {
      // Closed meanwhile.
    }
  }
  return count;
}
