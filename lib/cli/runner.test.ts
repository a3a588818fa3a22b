import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { integerFlag } from "./flags";
import { type Command, type CommandIo, runCommand } from "./runner";
import { UserError } from "./user-error";

class ForeignInputError extends Error {}

function sink() {
  let text = "";
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  });
  return { stream, text: () => text };
}

async function runWith<Args>(cmd: Command<Args>, argv: string[]) {
  const stdout = sink();
  const stderr = sink();
  const io: CommandIo = { stdout: stdout.stream, stderr: stderr.stream };
  const code = await runCommand(cmd, argv, io);
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

const USAGE = "usage: demo --count <n>";
const schema = z.object({
  count: integerFlag("count", { min: 1, fallback: 1 }),
  name: z.string().optional(),
});

function demo(
  run: Command<z.infer<typeof schema>>["run"],
  extra: Partial<Command<z.infer<typeof schema>>> = {},
) {
  return {
    name: "demo",
    usage: USAGE,
    options: { count: { type: "string" }, name: { type: "string" } },
    schema,
    run,
    ...extra,
  } satisfies Command<z.infer<typeof schema>>;
}

const never = async (): Promise<number> => {
  throw new Error("run must not be called");
};

describe("runCommand", () => {
  it("runs the command with the validated arguments and returns its exit code", async () => {
    let seen: unknown;
    const r = await runWith(
      demo(async (args, io) => {
        seen = args;
        io.stdout.write("done\n");
        return 1;
      }),
      ["--count", "3", "--name", "x"],
    );
    expect(r).toEqual({ code: 1, stdout: "done\n", stderr: "" });
    expect(seen).toEqual({ count: 3, name: "x" });
  });

  it("a flag parseArgs rejects: exit 2, the message and the usage on stderr, nothing run", async () => {
    const r = await runWith(demo(never), ["--bogus"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^demo: Unknown option '--bogus'.*\nusage: demo --count <n>\n$/s);
  });

  it("a positional where none is taken is a rejected flag too", async () => {
    const r = await runWith(demo(never), ["extra"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^demo: Unexpected argument 'extra'/);
  });

  it("a command may give bad usage its own exit code and leave the usage out", async () => {
    const r = await runWith(demo(never, { badUsage: { exitCode: 1, showUsage: false } }), ["--bogus"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^demo: Unknown option '--bogus'[^\n]*\n$/);
    expect(r.stderr).not.toContain(USAGE);
  });

  it.each([["--help"], ["-h"], ["--count", "0", "--help"]])(
    "%j prints the usage on stdout, exit 0",
    async (...argv) => {
      const r = await runWith(demo(never), argv);
      expect(r).toEqual({ code: 0, stdout: `${USAGE}\n`, stderr: "" });
    },
  );

  it("prints the usage on stderr for a command whose stdout is not for people", async () => {
    const r = await runWith(demo(never, { helpTo: "stderr" }), ["--help"]);
    expect(r).toEqual({ code: 0, stdout: "", stderr: `${USAGE}\n` });
  });

  it("a value the schema rejects: exit 2 with its message alone, nothing run", async () => {
    const r = await runWith(demo(never), ["--count", "0"]);
    expect(r).toEqual({ code: 2, stdout: "", stderr: 'demo: --count: expected an integer >= 1, got "0"\n' });
  });

  it("a UserError is its message and its own exit code, without a stack", async () => {
    const fail = (code?: number) =>
      demo(async () => {
        throw new UserError("the file is not there", code);
      });
    expect(await runWith(fail(), [])).toEqual({
      code: 2,
      stdout: "",
      stderr: "demo: the file is not there\n",
    });
    expect(await runWith(fail(1), [])).toEqual({
      code: 1,
      stdout: "",
      stderr: "demo: the file is not there\n",
    });
  });

  it("another module's input error listed as the command's is reported like a UserError", async () => {
    const cmd = demo(
      async () => {
        throw new ForeignInputError("bad manifest");
      },
      { userErrors: [ForeignInputError] },
    );
    expect(await runWith(cmd, [])).toEqual({ code: 2, stdout: "", stderr: "demo: bad manifest\n" });
  });

  it("anything else is a crash: exit 1 with the stack by default", async () => {
    const r = await runWith(
      demo(async () => {
        throw new TypeError("undefined is not a function");
      }),
      [],
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^demo: TypeError: undefined is not a function\n\s+at /);
  });

  it("a crash takes the command's own exit code and wording", async () => {
    const cmd = demo(
      async () => {
        throw new ForeignInputError("boom");
      },
      { crash: { exitCode: 2, describe: (err) => `unexpected: ${(err as Error).message}` } },
    );
    expect(await runWith(cmd, [])).toEqual({ code: 2, stdout: "", stderr: "demo: unexpected: boom\n" });
  });

  it("masks what it says on stderr with the command's redaction, from the parsed flags", async () => {
    const redact = (raw: Record<string, unknown>) => (text: string) =>
      text.replaceAll(String(raw.name), "***");
    const failing = demo(
      async (args) => {
        throw new UserError(`token ${args.name} refused`);
      },
      { redact },
    );
    expect((await runWith(failing, ["--name", "s3cret"])).stderr).toBe("demo: token *** refused\n");
    const crashing = demo(
      async (args) => {
        throw new Error(`crash with ${args.name}`);
      },
      { redact },
    );
    expect((await runWith(crashing, ["--name", "s3cret"])).stderr).not.toContain("s3cret");
    const rejected = await runWith(demo(never, { redact }), ["--name", "s3cret", "--count", "s3cret"]);
    expect(rejected.stderr).toBe('demo: --count: expected an integer >= 1, got "***"\n');
  });
});

describe("runCommand for a command without flags of its own", () => {
  const positional = z
    .object({ positionals: z.array(z.string()) })
    .transform(({ positionals: [command = "up", ...extra] }) => ({ command, extra }));
  const pass = (seen: unknown[]) =>
    ({
      name: "local",
      usage: "usage: local [command]",
      schema: positional,
      run: async (args) => {
        seen.push(args);
        return 0;
      },
    }) satisfies Command<z.infer<typeof positional>>;

  it("passes every argument through as typed, flags included", async () => {
    const seen: unknown[] = [];
    expect((await runWith(pass(seen), ["preview", "--diff", "--target", "urn", "-h"])).code).toBe(0);
    expect((await runWith(pass(seen), [])).code).toBe(0);
    expect(seen).toEqual([
      { command: "preview", extra: ["--diff", "--target", "urn", "-h"] },
      { command: "up", extra: [] },
    ]);
  });

  it("answers a leading --help or -h itself", async () => {
    for (const help of ["--help", "-h"]) {
      const seen: unknown[] = [];
      expect(await runWith(pass(seen), [help])).toEqual({
        code: 0,
        stdout: "usage: local [command]\n",
        stderr: "",
      });
      expect(seen).toEqual([]);
    }
  });
});
