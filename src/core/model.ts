/**
 * A loaded model: the package, its tokenizer, and onnxruntime sessions for the target and the draft on
 * one device. Loading checks every file's sha256 and each graph's inputs, outputs and dimensions
 * against the manifest, so a damaged or mismatched package fails here with the file's name.
 */
import type { InferenceSession } from 'onnxruntime-node';
import { CostModel, defaultProfile, type CostStore } from './cost';
import { HostEmbeddings, HOST_LOOKUP_INPUT } from './embeddings';
import { DeviceError, PackageError } from './errors';
import { MANIFEST_FILE, type Manifest } from './manifest';
import { checkSessionNames, loadPackage, type ModelPackage } from './package';
import type { VerifiedStore } from './verified';
import type { StandardLayout } from './formats/standard';
import { loadCosts } from './profile';
import { reclaimOutputs, type Collector } from './reclaim';
import { largestSoundBlock, treesSound } from './gpu/blockCheck';
import type { ProviderName } from './gpu/types';
import { cpuArenaFor, createSession, defaultThreads, type DeviceChoice, type DeviceRequest, type Logger, type Session } from './session';
import { TextTokenizer } from './tokenizer';

export interface LoadedModel {
  readonly pkg: ModelPackage;
  readonly manifest: Manifest;
  readonly tokenizer: TextTokenizer;
  readonly target: Session;
  readonly draft: Session | null;
  readonly device: DeviceChoice;
  /** Where the draft runs: the CPU, or the target's own provider (DraftPlacement). */
  readonly draftDevice: ProviderName;
  /** What verification and drafting cost here (measured at load, or read from the store). */
  readonly costs: CostModel;
  /** Positions a session may use: the package's max_context, capped by the context setting. */
  readonly context: number;
  /** The graph layout of a standard export (Optimum, onnxruntime-genai); null for a Chimera package. */
  readonly layout: StandardLayout | null;
  /**
   * The most query rows one forward pass may take, where the provider's kernels were found wrong for more
   * (gpu/blockCheck.ts); null when any block the decoder uses is sound.
   */
  readonly maxBlockRows: number | null;
  /**
   * Whether the provider computes verification trees right (gpu/blockCheck.ts); where it does not, the
   * decoder verifies chains only.
   */
  readonly treesSound: boolean;
  /** Embedding rows the engine reads for a target that takes `inputs_embeds`; null when the graph looks them up. */
  readonly embeddings: HostEmbeddings | null;
  dispose(): Promise<void>;
}

export interface LoadOptions {
  device: DeviceRequest;
  /** Exactly this execution provider, without fallback (diagnostics measure each one). */
  provider?: ProviderName;
  /** Whether a software GPU adapter may run the model (default: CHIMERA_ALLOW_SOFTWARE_GPU). */
  allowSoftwareGpu?: boolean;
  log: Logger;
  threads?: number;
  draftThreads?: number;
  /** Where the draft runs when the target is on a GPU (default 'cpu'; see DraftPlacement). */
  draftOn?: DraftPlacement;
  /** `measure` (default): a cost profile from `costStore` or measured now; `default`: a neutral guess. */
  costs?: 'measure' | 'default';
  /** Where measured profiles persist between loads (none: measured at every load). */
  costStore?: CostStore | null;
  /** Cap on the context a session uses (default DEFAULT_MAX_CONTEXT); the package's own limit still applies. */
  maxContext?: number;
  /** Package files already hashed and unchanged since are not hashed again (none: every file, every load). */
  verifiedStore?: VerifiedStore | null;
  /** Collects finished steps' output arrays now and then (reclaim.ts); none: V8 collects them when it will. */
  collector?: Collector | null;
}

/**
 * The context a session uses unless asked for more: enough for a file's worth of code around the cursor or
 * a long chat, while a model whose package allows 32k positions does not size its work for them.
 */
export const DEFAULT_MAX_CONTEXT = 8192;

/**
 * Where the draft runs beside a target on a GPU. 'cpu' by default: a draft call is a chain of a few
 * hundred small, sequential operations, so on a GPU it is bound by kernel launches, not arithmetic.
 * Measured on an H200 with WebGPU and the default model: 12.9 ms per draft call on the GPU, 0.87 ms on
 * that machine's CPU, against 5.0 ms for a target step (docs/measurements/h200-webgpu-2026-11-30). Its
 * inputs are the target's hidden states, which come back to the host with the logits anyway. 'target'
 * keeps the draft on the target's provider (tests of the GPU draft path, a device with cheap launches).
 */
export type DraftPlacement = 'cpu' | 'target';

function shapeOf(session: Session, name: string, kind: 'input' | 'output'): readonly (number | string)[] {
  const list = kind === 'input' ? session.inputMetadata : session.outputMetadata;
  const meta = list.find((m) => m.name === name) as InferenceSession.ValueMetadata | undefined;
  return meta && meta.isTensor ? meta.shape : [];
}

function checkDim(file: string, what: string, actual: number | string | undefined, expected: number): void {
  // Symbolic dimensions (strings) are left to the run; only fixed ones can disagree here.
  if (typeof actual === 'number' && actual !== expected) throw new PackageError(file, `${what} is ${actual} in the graph but ${expected} in chimera.json`);
}

/** A cache tensor is [1, positions, heads, head size]; every layer's, in and out, must match the manifest. */
function checkCacheDims(file: string, session: Session, names: readonly string[], kind: 'input' | 'output', heads: [string, number], size: [string, number]): void {
  for (const name of names) {
    const shape = shapeOf(session, name, kind);
    checkDim(file, `${name} heads (${heads[0]})`, shape[2], heads[1]);
    checkDim(file, `${name} head size (${size[0]})`, shape[3], size[1]);
  }
}

function checkTargetDims(file: string, m: Manifest, target: Session): void {
  checkDim(file, 'logits vocabulary dimension', shapeOf(target, 'logits', 'output')[2], m.model.vocab_size);
  checkDim(file, 'last_hidden_state width', shapeOf(target, 'last_hidden_state', 'output')[2], m.model.d_model);
  const heads: [string, number] = ['model.n_kv_heads', m.model.n_kv_heads];
  const size: [string, number] = ['model.head_dim', m.model.head_dim];
  checkCacheDims(file, target, m.io.target.inputs.filter((n) => n.startsWith('past_key_values.')), 'input', heads, size);
  checkCacheDims(file, target, m.io.target.outputs.filter((n) => n.startsWith('present.')), 'output', heads, size);
}

/** A standard export's graph must take and give the names its layout says (extra outputs are allowed). */
function checkStandardNames(file: string, m: Manifest, target: Session): void {
  const wanted = m.io.target.inputs.filter((n) => n !== 'position_ids');
  const missing = [...wanted.filter((n) => !target.inputNames.includes(n)), ...m.io.target.outputs.filter((n) => !target.outputNames.includes(n))];
  if (missing.length > 0) throw new PackageError(file, `is not the export its folder describes: no ${missing.slice(0, 4).join(', ')}${missing.length > 4 ? ', …' : ''}`);
  checkDim(file, 'logits vocabulary dimension', shapeOf(target, 'logits', 'output')[2], m.model.vocab_size);
}

function checkDraftDims(file: string, m: Manifest, draft: Session): void {
  checkDim(file, 'hidden_states width', shapeOf(draft, 'hidden_states', 'input')[2], m.model.d_model);
  const tokens = shapeOf(draft, 'draft_tokens', 'output');
  checkDim(file, 'draft steps', tokens[1], m.draft!.n_steps);
  checkDim(file, 'draft candidates per step', tokens[2], m.draft!.top_k);
  const heads: [string, number] = ['draft.n_heads', m.draft!.n_heads];
  const size: [string, number] = ['draft.head_dim', m.draft!.head_dim];
  checkCacheDims(file, draft, ['past_context.key', 'past_context.value'], 'input', heads, size);
  checkCacheDims(file, draft, ['present_context.key', 'present_context.value'], 'output', heads, size);
}

type DeviceSoundness = Pick<LoadedModel, 'maxBlockRows' | 'treesSound'>;

/**
 * What the provider computes right (gpu/blockCheck.ts): the largest block, and whether trees. Where either
 * falls short, the device's reason says so, for the log, the status bar and `chimera doctor`.
 */
async function checkDevice(parts: Parameters<typeof largestSoundBlock>[0], log: Logger): Promise<DeviceSoundness> {
  const { device } = parts;
  const note = (why: string) => {
    log('warn', `device: ${why}`);
    device.reason += `; ${why}`;
  };
  const maxBlockRows = await largestSoundBlock(parts);
  if (maxBlockRows !== null) note(`${device.kind} computes blocks of more than ${maxBlockRows} tokens wrongly on this adapter, so prompts and trees are cut to ${maxBlockRows}`);
  // A standard export's graph has no tree mask at all: it verifies chains everywhere.
  const treesOk = parts.layout ? false : await treesSound(parts, maxBlockRows);
  if (!treesOk && !parts.layout) note(`${device.kind} computes verification trees of this model wrongly (siblings see each other), so it verifies chains only`);
  return { maxBlockRows, treesSound: treesOk };
}

/** The package's embedding lookup, where its graph takes `inputs_embeds` (and only there). */
function openEmbeddings(pkg: ModelPackage, target: Session): HostEmbeddings | null {
  const takesEmbeddings = target.inputNames.includes(HOST_LOOKUP_INPUT);
  const embeddings = HostEmbeddings.open(pkg.dir, pkg.manifest);
  if (takesEmbeddings !== (embeddings !== null)) {
    embeddings?.close();
    const why = takesEmbeddings ? `takes ${HOST_LOOKUP_INPUT}, but ${MANIFEST_FILE} has no quantization.embedding_lookup to read them from` : `does not take ${HOST_LOOKUP_INPUT}, but ${MANIFEST_FILE} gives an embedding lookup`;
    throw new PackageError(pkg.targetPath, why);
  }
  return embeddings;
}

/** The outputs that feed a KV cache; on a GPU they stay on the device. */
function cacheOutputs(outputs: readonly string[]): string[] {
  return outputs.filter((n) => n.startsWith('present'));
}

/** onnxruntime's load errors say little about which file was bad; name it, and keep device errors as they are. */
async function openGraph<T>(file: string, open: () => Promise<T>): Promise<T> {
  try {
    return await open();
  } catch (err) {
    if (err instanceof DeviceError) throw err;
    throw new PackageError(file, `onnxruntime cannot load it (${(err as Error).message.split('\n')[0]})`);
  }
}

/**
 * The target's session and the tokenizer. The tokenizer is parsed on a worker thread while the target
 * loads on this one: the 0.5B int8 package loaded in 0.51 s instead of 0.84, with the same peak memory.
 * The tokenizer's faults are named first, as when it loaded first.
 */
async function openTargetAndTokenizer(pkg: ModelPackage, options: LoadOptions) {
  const { manifest } = pkg;
  const tokenizerLoad = TextTokenizer.load(pkg.tokenizerPath, manifest).then((loaded) => ({ loaded }), (err: unknown) => ({ err }));
  const created = await openGraph(pkg.targetPath, () =>
    createSession({ path: pkg.targetPath, device: options.device, provider: options.provider, allowSoftwareGpu: options.allowSoftwareGpu, threads: options.threads, log: options.log, gpuResidentOutputs: cacheOutputs(manifest.io.target.outputs), arena: cpuArenaFor(manifest.model.d_model) }),
  ).catch(async (err: unknown) => {
    const read = await tokenizerLoad;
    throw 'err' in read ? read.err : err;
  });
  const read = await tokenizerLoad;
  if ('err' in read) {
    await created.session.release();
    throw read.err;
  }
  return { tokenizer: read.loaded, created };
}

export async function loadModel(folder: string, options: LoadOptions): Promise<LoadedModel> {
  const pkg = await loadPackage(folder, { verified: options.verifiedStore ?? null });
  const { manifest } = pkg;
  const { tokenizer, created } = await openTargetAndTokenizer(pkg, options);
  const target = created.session;
  let draft: Session | null = null;
  let embeddings: HostEmbeddings | null = null;
  const releaseAll = async () => {
    await target.release();
    await draft?.release();
    embeddings?.close();
  };
  let draftDevice: ProviderName = created.device.kind;
  try {
    if (pkg.layout) checkStandardNames(pkg.targetPath, manifest, target);
    else {
      checkSessionNames(pkg.targetPath, manifest.io.target, target);
      checkTargetDims(pkg.targetPath, manifest, target);
      embeddings = openEmbeddings(pkg, target);
    }
    if (pkg.draftPath !== null && manifest.io.draft) {
      draftDevice = created.device.kind === 'cpu' || (options.draftOn ?? 'cpu') === 'cpu' ? 'cpu' : created.device.kind;
      const onCpu = draftDevice === 'cpu';
      const draftPath = pkg.draftPath;
      // The draft's operations are small and sequential; on a CPU, thread hand-offs cost more than they
      // save (measured: 1.2 ms per chain with one thread, 2.1 ms with two).
      const draftThreads = options.draftThreads ?? (onCpu ? 1 : options.threads);
      // On the GPU, the draft takes the target's provider, whose adapter (software or not) was already accepted.
      const where = { device: onCpu ? 'cpu' : 'gpu', provider: draftDevice, allowSoftwareGpu: true } as const;
      draft = (await openGraph(draftPath, () => createSession({ path: draftPath, ...where, threads: draftThreads, log: options.log, gpuResidentOutputs: cacheOutputs(manifest.io.draft!.outputs) }))).session;
      checkSessionNames(pkg.draftPath, manifest.io.draft, draft);
      checkDraftDims(pkg.draftPath, manifest, draft);
      if (onCpu && created.device.kind !== 'cpu') created.device.reason += '; the draft runs on the CPU, where its small sequential steps cost less than GPU launches';
    }
  } catch (err) {
    await releaseAll();
    throw err;
  }
  if (options.collector) for (const session of [target, draft]) if (session) reclaimOutputs(session, options.collector);
  const context = Math.min(manifest.model.max_context, options.maxContext ?? DEFAULT_MAX_CONTEXT);
  const layout = pkg.layout ? { ...pkg.layout, positionIds: target.inputNames.includes('position_ids') } : null;
  const parts = { pkg, manifest, tokenizer, target, draft, device: created.device, draftDevice, context, layout, embeddings };
  let costs: CostModel;
  let sound: DeviceSoundness;
  try {
    sound = await checkDevice(parts, options.log);
    const threads = options.threads ?? defaultThreads();
    costs = options.costs === 'default' ? new CostModel(defaultProfile()) : await loadCosts({ ...parts, ...sound }, threads, options.costStore ?? null, options.log);
  } catch (err) {
    await releaseAll();
    throw err;
  }
  options.log('info', `model ${manifest.name} loaded from ${pkg.dir} (${manifest.model.n_layers} layers, vocabulary ${manifest.model.vocab_size}${draft ? `, Chimera draft with ${manifest.draft!.n_steps} heads on ${draftDevice}` : ', no draft'})`);
  return {
    pkg,
    manifest,
    tokenizer,
    target,
    draft,
    device: created.device,
    draftDevice,
    costs,
    context,
    layout,
    ...sound,
    embeddings,
    dispose: releaseAll,
  };
}
