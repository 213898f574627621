/**
 * The one typed view of the `chimera.*` settings.
 *
 * This file is pure (no vscode import) so unit tests can exercise the parsing, and so the engine
 * and CLI can share the same types and defaults. `src/extension/settings.ts` feeds it VS Code's
 * configuration reader; a unit test checks that SETTINGS_SCHEMA matches package.json, so the
 * manifest and the code cannot drift apart silently.
 */

export const DEVICES = ['auto', 'gpu', 'cpu'] as const;
export type Device = (typeof DEVICES)[number];

export const DECODING_MODES = ['chimera', 'ngram', 'autoregressive'] as const;
export type DecodingMode = (typeof DECODING_MODES)[number];

/** Who answers: the local engine (the default: nothing leaves the machine) or a shared OpenAI-compatible server. */
export const BACKENDS = ['local', 'openai-compatible'] as const;
export type BackendKind = (typeof BACKENDS)[number];

/**
 * The FIM formats a person can choose for a shared server: known model families (a client-side prompt)
 * or the server's own FIM route. Lives here so the settings need nothing from the HTTP client.
 */
export const FIM_FORMAT_SETTINGS = ['auto', 'qwen2.5-coder', 'starcoder2', 'deepseek-coder', 'codellama', 'codestral', 'openai-suffix', 'ollama', 'llama.cpp'] as const;
export type FimFormatSetting = (typeof FIM_FORMAT_SETTINGS)[number];

export interface ChimeraSettings {
  /** Folder of a model package; empty means the default package shipped in `models/default`. */
  modelPath: string;
  device: Device;
  inline: { enabled: boolean; debounceMs: number; maxTokens: number };
  chat: { maxTokens: number };
  decoding: { mode: DecodingMode };
  temperature: number;
  /** Most tokens of context (prompt and answer) the engine uses, below the model's own limit. */
  maxContext: number;
  /** Where Download Model fetches from (the Hugging Face Hub or a mirror with its URL layout). */
  hub: { url: string };
  /** Whether a software GPU adapter (SwiftShader, WARP) may run the model: slower than the CPU, for testing. */
  gpu: { allowSoftware: boolean };
  backend: BackendKind;
  /** The shared server; used only when `backend` is openai-compatible. The API key is in SecretStorage. */
  server: { url: string; model: string; fimFormat: FimFormatSetting; timeoutMs: number };
}

type SchemaEntry =
  | { type: 'string'; default: string }
  | { type: 'boolean'; default: boolean }
  | { type: 'enum'; values: readonly string[]; default: string }
  | { type: 'number'; default: number; minimum: number; maximum: number; integer: boolean };

/** Keys are relative to the `chimera` section, exactly as they appear after `chimera.` in package.json. */
export const SETTINGS_SCHEMA = {
  modelPath: { type: 'string', default: '' },
  device: { type: 'enum', values: DEVICES, default: 'auto' },
  'inline.enabled': { type: 'boolean', default: true },
  'inline.debounceMs': { type: 'number', default: 150, minimum: 0, maximum: 5000, integer: true },
  'inline.maxTokens': { type: 'number', default: 64, minimum: 1, maximum: 1024, integer: true },
  'chat.maxTokens': { type: 'number', default: 512, minimum: 1, maximum: 8192, integer: true },
  'decoding.mode': { type: 'enum', values: DECODING_MODES, default: 'chimera' },
  temperature: { type: 'number', default: 0, minimum: 0, maximum: 2, integer: false },
  maxContext: { type: 'number', default: 8192, minimum: 256, maximum: 131072, integer: true },
  'hub.url': { type: 'string', default: 'https://huggingface.co' },
  'gpu.allowSoftware': { type: 'boolean', default: false },
  backend: { type: 'enum', values: BACKENDS, default: 'local' },
  'server.url': { type: 'string', default: '' },
  'server.model': { type: 'string', default: '' },
  'server.fimFormat': { type: 'enum', values: FIM_FORMAT_SETTINGS, default: 'auto' },
  'server.timeoutMs': { type: 'number', default: 30000, minimum: 1000, maximum: 600000, integer: true },
} as const satisfies Record<string, SchemaEntry>;

export type SettingKey = keyof typeof SETTINGS_SCHEMA;

/** Reads one raw value by key relative to `chimera`; undefined when unset. */
export type ConfigReader = (key: SettingKey) => unknown;

export interface SettingsProblem {
  key: SettingKey;
  message: string;
}

export interface ParsedSettings {
  settings: ChimeraSettings;
  /** Values that were replaced or clamped; the caller logs them so a typo is never silently ignored. */
  problems: SettingsProblem[];
}

export function parseSettings(get: ConfigReader): ParsedSettings {
  const problems: SettingsProblem[] = [];
  const settings: ChimeraSettings = {
    modelPath: readString(get, 'modelPath', problems),
    device: readEnum(get, 'device', DEVICES, problems),
    inline: {
      enabled: readBoolean(get, 'inline.enabled', problems),
      debounceMs: readNumber(get, 'inline.debounceMs', problems),
      maxTokens: readNumber(get, 'inline.maxTokens', problems),
    },
    chat: { maxTokens: readNumber(get, 'chat.maxTokens', problems) },
    decoding: { mode: readEnum(get, 'decoding.mode', DECODING_MODES, problems) },
    temperature: readNumber(get, 'temperature', problems),
    maxContext: readNumber(get, 'maxContext', problems),
    hub: { url: readString(get, 'hub.url', problems) || 'https://huggingface.co' },
    gpu: { allowSoftware: readBoolean(get, 'gpu.allowSoftware', problems) },
    backend: readEnum(get, 'backend', BACKENDS, problems),
    server: {
      url: readString(get, 'server.url', problems),
      model: readString(get, 'server.model', problems),
      fimFormat: readEnum(get, 'server.fimFormat', FIM_FORMAT_SETTINGS, problems),
      timeoutMs: readNumber(get, 'server.timeoutMs', problems),
    },
  };
  return { settings, problems };
}

/** The settings a fresh install sees. */
export function defaultSettings(): ChimeraSettings {
  return parseSettings(() => undefined).settings;
}

type KeysOfType<T extends SchemaEntry['type']> = {
  [K in SettingKey]: (typeof SETTINGS_SCHEMA)[K]['type'] extends T ? K : never;
}[SettingKey];

function readString(get: ConfigReader, key: KeysOfType<'string'>, problems: SettingsProblem[]): string {
  const spec = SETTINGS_SCHEMA[key];
  const raw = get(key);
  if (raw === undefined || raw === null) return spec.default;
  if (typeof raw !== 'string') {
    problems.push({ key, message: `expected a string, got ${describe(raw)}; using the default` });
    return spec.default;
  }
  return raw.trim();
}

function readBoolean(get: ConfigReader, key: KeysOfType<'boolean'>, problems: SettingsProblem[]): boolean {
  const spec = SETTINGS_SCHEMA[key];
  const raw = get(key);
  if (raw === undefined || raw === null) return spec.default;
  if (typeof raw !== 'boolean') {
    problems.push({ key, message: `expected true or false, got ${describe(raw)}; using ${spec.default}` });
    return spec.default;
  }
  return raw;
}

function readEnum<T extends string>(
  get: ConfigReader,
  key: KeysOfType<'enum'>,
  values: readonly T[],
  problems: SettingsProblem[],
): T {
  const fallback = SETTINGS_SCHEMA[key].default as T;
  const raw = get(key);
  if (raw === undefined || raw === null) return fallback;
  if (typeof raw === 'string' && (values as readonly string[]).includes(raw)) return raw as T;
  problems.push({
    key,
    message: `expected one of ${values.join(', ')}, got ${describe(raw)}; using ${fallback}`,
  });
  return fallback;
}

function readNumber(get: ConfigReader, key: KeysOfType<'number'>, problems: SettingsProblem[]): number {
  const spec: Extract<SchemaEntry, { type: 'number' }> = SETTINGS_SCHEMA[key];
  const raw = get(key);
  if (raw === undefined || raw === null) return spec.default;
  if (typeof raw !== 'number' || !Number.isFinite(raw)) {
    problems.push({ key, message: `expected a number, got ${describe(raw)}; using ${spec.default}` });
    return spec.default;
  }
  let value = spec.integer ? Math.round(raw) : raw;
  if (value < spec.minimum || value > spec.maximum) {
    value = Math.min(spec.maximum, Math.max(spec.minimum, value));
    problems.push({ key, message: `${raw} is outside ${spec.minimum}..${spec.maximum}; using ${value}` });
  } else if (value !== raw) {
    problems.push({ key, message: `${raw} is not a whole number; using ${value}` });
  }
  return value;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'an array';
  return value === null ? 'null' : typeof value === 'object' ? 'an object' : String(value);
}
