// Runs the real program (index.ts) under Pulumi's mock runtime, the one stand-in for the engine that
// cannot run on these machines. Resource callbacks record what the program declared; tests supply how
// each resource "resolves" (a fake digest here, a real build in the end-to-end tier).
import { readFileSync } from "node:fs";
import path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { vi } from "vitest";
import { parse } from "yaml";

export const PROJECT_DIR = path.resolve(__dirname, "..", "..");

export interface Declared {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  /** Set when the program asked to import (adopt) an existing resource. */
  importId?: string;
}

export type Resolver = (
  r: Declared,
) => Promise<Record<string, unknown> | undefined> | Record<string, unknown> | undefined;

/** A stack file's config as the engine hands it to a program: structured values as JSON text. */
export function stackConfig(file: string): Record<string, string> {
  const doc = parse(readFileSync(path.join(PROJECT_DIR, file), "utf8")) as {
    config: Record<string, unknown>;
  };
  return Object.fromEntries(
    Object.entries(doc.config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]),
  );
}

export interface ProgramRun {
  resources: Declared[];
  outputs: Record<string, unknown>;
  byType(type: string): Declared[];
  one(type: string, name: string): Declared;
}

/** Awaits an output's value; never use on an output the test expects to be unknown (it would hang). */
export function resolved<T>(output: pulumi.Input<T>): Promise<T> {
  return new Promise((resolve) => pulumi.output(output).apply((v) => resolve(v as T)));
}

export async function runProgram(opts: {
  config: Record<string, string>;
  preview?: boolean;
  stack?: string;
  resolve?: Resolver;
  /** Invoke results by token; the ECR token has a default. */
  calls?: Record<string, Record<string, unknown>>;
  /** Which outputs to await (known ones only). */
  await?: string[];
}): Promise<ProgramRun> {
  const resources: Declared[] = [];
  pulumi.runtime.setAllConfig(opts.config);
  await pulumi.runtime.setMocks(
    {
      newResource: async (args) => {
        const declared: Declared = {
          type: args.type,
          name: args.name,
          inputs: args.inputs,
          importId: args.id,
        };
        resources.push(declared);
        const state = (await opts.resolve?.(declared)) ?? {};
        return { id: args.id ?? `${args.name}-id`, state: { ...args.inputs, ...state } };
      },
      call: (args) => {
        const result = opts.calls?.[args.token];
        if (result) return result;
        if (args.token === "aws:ecr/getAuthorizationToken:getAuthorizationToken") {
          const registryId = String(args.inputs.registryId);
          return {
            userName: "AWS",
            password: "ecr-password-must-stay-secret",
            proxyEndpoint: `https://${registryId}.dkr.ecr.us-east-2.amazonaws.com`,
            authorizationToken: "QVdTOmVjci1wYXNzd29yZA==",
            expiresAt: "2026-11-24T12:00:00Z",
            id: registryId,
          };
        }
        return {};
      },
    },
    "molecule-images",
    opts.stack ?? "staging",
    opts.preview ?? false,
  );
  vi.resetModules();
  const program = (await import("../../index")) as Record<string, unknown>;
  const outputs: Record<string, unknown> = {};
  for (const key of opts.await ?? []) outputs[key] = await resolved(program[key] as pulumi.Input<unknown>);
  // Images register last (they wait on staging and on their bases): once all have, the program is done.
  const expected = (JSON.parse(opts.config["molecule-images:images"] ?? "[]") as unknown[]).length;
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
    if (resources.filter((r) => r.type === "docker-build:index:Image").length >= expected) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    resources,
    outputs,
    byType: (type) => resources.filter((r) => r.type === type),
    one: (type, name) => {
      const found = resources.find((r) => r.type === type && r.name === name);
      if (!found)
        throw new Error(
          `no ${type} named ${name}; declared: ${resources.map((r) => `${r.type} ${r.name}`).join(", ")}`,
        );
      return found;
    },
  };
}
