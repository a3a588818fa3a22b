/**
 * `pulumi preview --json`: parsing, and folding its steps into one change per resource.
 *
 * The document is Pulumi's PreviewDigest (sdk/pkg/display/json.go, formerly sdk/go/common/display/json.go,
 * written by ShowPreviewDigest in pkg/backend/display/json.go): `steps[]` of PreviewStep
 * `{ op, urn, provider, oldState, newState, diffReasons, replaceReasons, detailedDiff }` whose states are
 * apitype.ResourceV3 `{ urn, custom, id, type, inputs, outputs, parent, ... }`, plus `changeSummary`
 * (op -> count), `diagnostics[]` `{ urn, prefix, message, severity }`, `config`, `duration` (ns) and
 * `maybeCorrupt`. The fixtures in test/fixtures/preview/ cite the sources.
 */
// Types only: the automation API is not loaded at run time, the report only shares its vocabulary.
import type { DiffKind as AutomationDiffKind, OpType } from "@pulumi/pulumi/automation";
import { z } from "zod";
import { UserError } from "../cli/user-error";
import { stripBom } from "../text/bom";
import { maskStrings, redactValue } from "./secrets";

/** detailedDiff kinds, as the engine spells them (the automation API's enum, as its string values). */
export type DiffKind = `${AutomationDiffKind}`;

const stateSchema = z.looseObject({
  urn: z.string().optional(),
  type: z.string().optional(),
  id: z.string().optional(),
  parent: z.string().optional(),
  inputs: z.record(z.string(), z.unknown()).nullish(),
  outputs: z.record(z.string(), z.unknown()).nullish(),
});

const propertyDiffSchema = z.looseObject({
  kind: z.string(),
  inputDiff: z.boolean().optional(),
});

const stepSchema = z.looseObject({
  op: z.string(),
  urn: z.string(),
  provider: z.string().optional(),
  oldState: stateSchema.nullish(),
  newState: stateSchema.nullish(),
  // Go marshals a nil slice or map as null: detailedDiff has no omitempty, so it is null when absent.
  diffReasons: z.array(z.string()).nullish(),
  replaceReasons: z.array(z.string()).nullish(),
  detailedDiff: z.record(z.string(), propertyDiffSchema).nullish(),
});

const diagnosticSchema = z.looseObject({
  urn: z.string().optional(),
  prefix: z.string().optional(),
  message: z.string().optional(),
  severity: z.string().optional(),
});

const digestSchema = z.looseObject({
  config: z.record(z.string(), z.unknown()).nullish(),
  steps: z.array(stepSchema).nullish(),
  diagnostics: z.array(diagnosticSchema).nullish(),
  duration: z.number().optional(),
  changeSummary: z.record(z.string(), z.number()).nullish(),
  maybeCorrupt: z.boolean().optional(),
});

export type ResourceState = z.infer<typeof stateSchema>;
export type PropertyDiff = z.infer<typeof propertyDiffSchema>;
export type PreviewStep = z.infer<typeof stepSchema>;
export type PreviewDiagnostic = z.infer<typeof diagnosticSchema>;

export interface PreviewDigest {
  config: Record<string, unknown>;
  steps: PreviewStep[];
  diagnostics: PreviewDiagnostic[];
  changeSummary: Record<string, number>;
  maybeCorrupt: boolean;
}

function describePath(path: PropertyKey[]): string {
  return path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("") || "(top level)";
}

/** Parses the document, naming the file and the first bad field; an empty or streamed output is explained. */
export function parsePreview(text: string, file: string): PreviewDigest {
  const body = stripBom(text).trim();
  if (!body) throw new UserError(`${file}: empty (did pulumi preview --json fail before printing?)`);
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch (err) {
    // PULUMI_ENABLE_STREAMING_JSON_PREVIEW prints one engine event per line instead of one digest.
    if (body.split("\n").every((line) => /^\s*\{.*"sequence"\s*:/.test(line))) {
      throw new UserError(
        `${file}: this is a stream of engine events (PULUMI_ENABLE_STREAMING_JSON_PREVIEW), not the single document pulumi preview --json prints; unset it`,
      );
    }
    throw new UserError(`${file}: not valid JSON: ${(err as Error).message}`);
  }
  const result = digestSchema.safeParse(data);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue ? describePath(issue.path) : "(top level)";
    throw new UserError(
      `${file}: not a pulumi preview --json document: ${where}: ${issue?.message ?? "invalid"}`,
    );
  }
  const digest = result.data;
  // Every field is optional in the Go struct, so any JSON object would pass the schema; a real preview
  // always has at least one of these (the root stack's step, the summary, or the diagnostics of a failure).
  if (!digest.steps && !digest.changeSummary && !digest.diagnostics) {
    throw new UserError(
      `${file}: not a pulumi preview --json document: none of steps, changeSummary or diagnostics is present`,
    );
  }
  return {
    config: digest.config ?? {},
    steps: digest.steps ?? [],
    diagnostics: digest.diagnostics ?? [],
    changeSummary: digest.changeSummary ?? {},
    maybeCorrupt: digest.maybeCorrupt ?? false,
  };
}

/** The digest with every secret blinded (see secrets.ts): property values by key and envelope, all by mask. */
export function sanitizePreview(digest: PreviewDigest, masks: readonly string[]): PreviewDigest {
  const state = (s: ResourceState | null | undefined): ResourceState | undefined => {
    if (!s) return undefined;
    const masked = maskStrings(s, masks);
    return {
      ...masked,
      inputs: s.inputs ? (redactValue(s.inputs, masks) as Record<string, unknown>) : s.inputs,
      outputs: s.outputs ? (redactValue(s.outputs, masks) as Record<string, unknown>) : s.outputs,
    };
  };
  return {
    config: redactValue(digest.config, masks) as Record<string, unknown>,
    steps: digest.steps.map((step) => ({
      ...maskStrings(step, masks),
      oldState: state(step.oldState),
      newState: state(step.newState),
    })),
    diagnostics: maskStrings(digest.diagnostics, masks),
    changeSummary: digest.changeSummary,
    maybeCorrupt: digest.maybeCorrupt,
  };
}

export interface ParsedUrn {
  stack: string;
  project: string;
  /** The last type of the parent chain: `docker-build:index:Image`. */
  type: string;
  name: string;
}

/** `urn:pulumi:<stack>::<project>::<parent types $-joined>$<type>::<name>` (a name may itself hold "::"). */
export function parseUrn(urn: string): ParsedUrn {
  const parts = urn.split("::");
  if (parts.length < 4 || !parts[0]?.startsWith("urn:pulumi:")) {
    return { stack: "", project: "", type: "", name: urn };
  }
  const qualified = parts[2] ?? "";
  return {
    stack: (parts[0] ?? "").slice("urn:pulumi:".length),
    project: parts[1] ?? "",
    type: qualified.split("$").pop() ?? qualified,
    name: parts.slice(3).join("::"),
  };
}

/** The engine's ops that change a resource, as the report names them (a replacement's steps fold into one). */
export type ChangeOp = Extract<OpType, "create" | "update" | "replace" | "delete" | "import">;

/** One resource that changes, whatever number of steps the engine used to say so. */
export interface ResourceChange {
  op: ChangeOp;
  urn: string;
  type: string;
  name: string;
  diffReasons: string[];
  replaceReasons: string[];
  detailedDiff?: Record<string, PropertyDiff>;
  oldState?: ResourceState;
  newState?: ResourceState;
}

// Only the logical `replace` step is printed by default; `--show-replacement-steps` prints the physical
// create-replacement / delete-replaced pair too (shouldShow in pkg/backend/display). Either way, one row.
const OP_OF: Partial<Record<OpType, ChangeOp>> = {
  create: "create",
  update: "update",
  delete: "delete",
  import: "import",
  replace: "replace",
  "create-replacement": "replace",
  "delete-replaced": "replace",
  "import-replacement": "replace",
};

const union = (a: string[], b: readonly string[] | null | undefined) => [...new Set([...a, ...(b ?? [])])];

export interface ChangeSet {
  changes: ResourceChange[];
  counts: Record<ChangeOp, number> & { same: number };
  stack?: string;
}

/**
 * Folds steps into changes (first-seen order, one per URN). `same`, `read`, `refresh` and the other
 * non-mutating ops are not listed; `same` is counted from changeSummary, which covers the sames that
 * `--json` leaves out unless `--show-sames` is given.
 */
export function foldSteps(digest: PreviewDigest): ChangeSet {
  const byUrn = new Map<string, ResourceChange>();
  const sameUrns = new Set<string>();
  let stack: string | undefined;
  for (const step of digest.steps) {
    const parsed = parseUrn(step.urn);
    stack ??= parsed.stack || undefined;
    if (step.op === "same") sameUrns.add(step.urn);
    const op = OP_OF[step.op as OpType];
    if (!op) continue;
    const type = step.newState?.type ?? step.oldState?.type ?? parsed.type;
    const existing = byUrn.get(step.urn);
    if (!existing) {
      byUrn.set(step.urn, {
        op,
        urn: step.urn,
        type,
        name: parsed.name,
        diffReasons: [...(step.diffReasons ?? [])],
        replaceReasons: [...(step.replaceReasons ?? [])],
        detailedDiff: step.detailedDiff ?? undefined,
        oldState: step.oldState ?? undefined,
        newState: step.newState ?? undefined,
      });
      continue;
    }
    if (op === "replace") existing.op = "replace";
    existing.diffReasons = union(existing.diffReasons, step.diffReasons);
    existing.replaceReasons = union(existing.replaceReasons, step.replaceReasons);
    existing.detailedDiff ??= step.detailedDiff ?? undefined;
    // The physical steps split the states: delete-replaced holds the old one, create-replacement the new.
    if (step.op !== "create-replacement") existing.oldState ??= step.oldState ?? undefined;
    if (step.op !== "delete-replaced") existing.newState ??= step.newState ?? undefined;
  }
  const changes = [...byUrn.values()];
  const counts = { create: 0, update: 0, replace: 0, delete: 0, import: 0, same: 0 };
  for (const change of changes) counts[change.op]++;
  counts.same = digest.changeSummary.same ?? sameUrns.size;
  return { changes, counts, stack };
}
