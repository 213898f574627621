/**
 * How the extension reaches a shared inference server: its address, the model, the FIM format, the key.
 *
 * One URL serves every server kind. The OpenAI routes live under `/v1` (vLLM, TGI, llama.cpp's server,
 * Ollama and `chimera serve` all put them there), the server-side FIM routes at the root (Ollama's
 * `/api/generate`, llama.cpp's `/infill`), so a URL given with or without `/v1` means the same server.
 */
import type { FimFormatSetting } from '../../core/settings';
import { RemoteError } from './errors';

export { FIM_FORMAT_SETTINGS, type FimFormatSetting } from '../../core/settings';

export interface RemoteConfig {
  /** The server as configured, e.g. `http://gpu-box:8000/v1` or `http://gpu-box:11434`. */
  url: string;
  /** The model id to ask for; empty means the only model the server lists. */
  model: string;
  fimFormat: FimFormatSetting;
  /** Sent as `Authorization: Bearer <key>` when set; kept in SecretStorage by the extension. */
  apiKey?: string;
  /** Longest wait for the server's first byte, and longest silence within a streamed answer. */
  timeoutMs: number;
}

export interface Endpoints {
  /** The server's root, for its native routes (`/api/generate`, `/infill`). */
  root: string;
  /** The OpenAI-compatible base (`<root>/v1`). */
  openai: string;
}

/** The server's two bases from the configured URL; a RemoteError('config') says what is wrong with it. */
export function endpoints(url: string): Endpoints {
  const trimmed = url.trim();
  if (trimmed === '') throw new RemoteError('config', 'no server URL is set (chimera.server.url)');
  let parsed: URL;
  try {
    parsed = new URL(trimmed);
  } catch {
    throw new RemoteError('config', `chimera.server.url is not a URL: ${JSON.stringify(trimmed)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new RemoteError('config', `chimera.server.url must start with http:// or https:// (got ${parsed.protocol})`);
  if (parsed.username || parsed.password) throw new RemoteError('config', 'chimera.server.url must not carry a user name or password; set the API key with "Chimera: Set Server API Key…"');
  const path = parsed.pathname.replace(/\/+$/, '').replace(/\/v1$/, '');
  const root = `${parsed.origin}${path}`;
  return { root, openai: `${root}/v1` };
}

const LOOPBACK_NAMES = /^(localhost|.+\.localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/**
 * True when the URL sends code over plain http to another machine: anyone on the network path can read
 * it, and the API key with it. Loopback addresses never leave this machine.
 */
export function isPlainHttpToAnotherHost(url: string): boolean {
  try {
    const parsed = new URL(url.trim());
    return parsed.protocol === 'http:' && !LOOPBACK_NAMES.test(parsed.hostname);
  } catch {
    return false;
  }
}
