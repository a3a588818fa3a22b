// Runs the real program (index.ts) under Pulumi's mock runtime, the one stand-in for the engine that
// cannot run on these machines. Resource callbacks record what the program declared; tests supply how
// each resource "resolves" (a fake digest here, a real build in the end-to-end tier).
import { cpSync, readFileSync } from "node:fs";
import path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { vi } from "vitest";
import { parse } from "yaml";

export const PROJECT_DIR = path.resolve(__dirname, "..", "..");

/**
 * Copies a source tree for a test, without what an earlier run staged into it (`.tenant-bundle-deps` is
 * ignored by git but present in a developer's checkout): a test must see only what its own run staged.
 */
export function copySource(from: string, to: string): void {
  cpSync(from, to, { recursive: true, filter: (src) => path.basename(src) !== ".tenant-bundle-deps" });
}

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
  /** Failures of resource callbacks (a build that failed): what the engine would report. */
  errors: Array<{ name: string; error: unknown }>;
  /** With expectFailure: the rejections the failure caused downstream. */
  unhandled: unknown[];
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
  /**
   * A resource is meant to fail. The SDK then rejects the promises of everything depending on it, and
   * nobody awaits them: the engine reports those as the deployment's failure. Here they are collected
   * into `unhandled` instead of reaching the test runner as stray errors.
   */
  expectFailure?: boolean;
}): Promise<ProgramRun> {
  const resources: Declared[] = [];
  const errors: ProgramRun["errors"] = [];
  const unhandled: unknown[] = [];
  const listeners = process.listeners("unhandledRejection");
  const collect = (reason: unknown) => unhandled.push(reason);
  if (opts.expectFailure) {
    process.removeAllListeners("unhandledRejection");
    process.on("unhandledRejection", collect);
  }
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
        let state: Record<string, unknown>;
        try {
          state = (await opts.resolve?.(declared)) ?? {};
        } catch (error) {
          errors.push({ name: args.name, error });
          throw error;
        }
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
  // The program is an async function (`export =`): the engine calls it and takes its result as the outputs.
  const mod = (await import("../../index.js")) as { default?: unknown };
  const main = typeof mod.default === "function" ? mod.default : mod;
  const program = (await (main as () => Promise<Record<string, unknown>>)()) as Record<string, unknown>;
  const outputs: Record<string, unknown> = {};
  // Images register last (they wait on staging and on their bases): once all have, the program is done.
  const expected = (JSON.parse(opts.config["molecule-images:images"] ?? "[]") as unknown[]).length;
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
    if (errors.length > 0) break;
    if (resources.filter((r) => r.type === "docker-build:index:Image").length >= expected) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  if (opts.expectFailure) {
    // Let the dependents' rejections surface, then give the runner its listeners back.
    await new Promise((r) => setTimeout(r, 500));
    process.removeListener("unhandledRejection", collect);
    for (const listener of listeners) process.on("unhandledRejection", listener);
  }
  // A failed resource leaves the outputs that depend on it unresolved forever: only await a clean run's.
  if (errors.length === 0) {
    for (const key of opts.await ?? []) outputs[key] = await resolved(program[key] as pulumi.Input<unknown>);
  }
  return {
    resources,
    errors,
    unhandled,
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
