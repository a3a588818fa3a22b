import { describe, expect, it } from "vitest";
import { repositoryMove, repositoryOf } from "./repository";

const DIGEST = `sha256:${"a".repeat(64)}`;
const state = (tag: unknown) => ({ inputs: { tags: [tag] } });

describe("repositoryOf", () => {
  it.each([
    ["127.0.0.1:5000/molecule-ai/platform:local-6b6b6b6", "molecule-ai/platform"],
    [
      "153263036946.dkr.ecr.us-east-2.amazonaws.com/molecule-ai/platform:staging-latest",
      "molecule-ai/platform",
    ],
    [`localhost/org/x@${DIGEST}`, "org/x"],
    ["org/x:tag", "org/x"],
    ["04da6b54-80e4-46f7-96ec-b56ff0331ba9", "04da6b54-80e4-46f7-96ec-b56ff0331ba9"],
  ])("%s → %s", (tag, repo) => expect(repositoryOf(tag)).toBe(repo));

  it("is undefined for what is not a tag", () => {
    expect(repositoryOf(42)).toBeUndefined();
    expect(repositoryOf('x"]; y')).toBeUndefined();
  });
});

describe("repositoryMove", () => {
  it("from and to when the first tag's repository differs", () => {
    expect(repositoryMove(state("h:1/org/a:t1"), state("h:1/org/b:t1"))).toEqual({
      from: "org/a",
      to: "org/b",
    });
  });

  it("nothing when only the tag moved, or a side is unknown", () => {
    expect(repositoryMove(state("h:1/org/a:t1"), state("h:1/org/a:t2"))).toBeUndefined();
    expect(repositoryMove(undefined, state("h:1/org/a:t1"))).toBeUndefined();
    expect(repositoryMove(state("h:1/org/a:t1"), { inputs: {} })).toBeUndefined();
  });
});
