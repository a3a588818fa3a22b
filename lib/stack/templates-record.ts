/**
 * The engine's record of what was staged: a resource whose inputs are the staged digest and the pins, so a
 * pin bump shows in the preview as a replacement of this record, and the images, which take its digest, update.
 * An unchanged manifest stages the same digest: no replacement, no rebuild.
 *
 * A dynamic resource, run by the Node SDK's own provider: it needs no plugin beyond the engine, and no
 * process or shell command whose text (a file path) would itself become a resource input.
 */
import * as pulumi from "@pulumi/pulumi";

export interface RecordedEntry {
  list: string;
  name: string;
  ref: string;
  digest: string;
}

export interface TemplatesRecordInputs {
  digest: pulumi.Input<string>;
  entries: pulumi.Input<RecordedEntry[]>;
}

interface RecordState {
  digest: string;
  entries: RecordedEntry[];
}

// Serialised into the state by the SDK, so it captures nothing: no imports, no module state.
const provider: pulumi.dynamic.ResourceProvider<RecordState, RecordState> = {
  async create(inputs) {
    return { id: `templates-${inputs.digest.replace(/^sha256:/, "").slice(0, 12)}`, outs: inputs };
  },
  async diff(_id, olds, news) {
    const replace = olds.digest !== news.digest;
    const changes = replace || JSON.stringify(olds.entries) !== JSON.stringify(news.entries);
    return { changes, replaces: replace ? ["digest"] : [], deleteBeforeReplace: false };
  },
  async update(_id, _olds, news) {
    return { outs: news };
  },
};

export class TemplatesRecord extends pulumi.dynamic.Resource {
  declare readonly digest: pulumi.Output<string>;
  declare readonly entries: pulumi.Output<RecordedEntry[]>;

  constructor(name: string, args: TemplatesRecordInputs, opts?: pulumi.CustomResourceOptions) {
    super(provider, name, args, opts);
  }
}
