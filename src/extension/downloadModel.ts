/**
 * `chimera.downloadModel`: pick a model from the Hub (a short list of known-good code models, or any
 * `org/name`), pick one of its ONNX graphs (a precision), download it with progress and Cancel into the
 * extension's global storage, and offer to use it. Nothing downloads unless the person runs the command;
 * the Hub address is the `chimera.hub.url` setting (a mirror or a company cache). The download itself is
 * core/hub.ts: resumable, checked against the Hub's sha256, disk space checked first.
 */
import * as vscode from 'vscode';
import { downloadFiles, graphChoices, HubError, listFiles, supportFiles, type HubFile } from '../core/hub';
import { selectModel } from './selectModel';
import { readSettings } from './settings';

/** Code models published in the Optimum layout the engine reads (formats/standard.ts). */
export const KNOWN_MODELS = [
  { repo: 'onnx-community/Qwen2.5-Coder-0.5B-Instruct', detail: '0.5B, chat and fill-in-the-middle; q4 ≈ 0.5 GB' },
  { repo: 'onnx-community/Qwen2.5-Coder-1.5B-Instruct', detail: '1.5B, chat and fill-in-the-middle; q4 ≈ 1.2 GB' },
];
const OTHER = '$(search) Another repository (organisation/name)…';

/** Arguments for scripted use (tests, keybindings): skip the pickers. */
export interface DownloadRequest {
  repo: string;
  /** The graph to fetch, e.g. onnx/model_q4.onnx. */
  file?: string;
  /** Switch to the model when done (default: ask). */
  use?: boolean;
}

function hubUrl(log: vscode.LogOutputChannel): string {
  return readSettings(log).hub.url;
}

function size(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(2)} GB` : `${Math.max(1, Math.round(bytes / 2 ** 20))} MB`;
}

async function chooseRepo(hub: string): Promise<string | undefined> {
  const items = [...KNOWN_MODELS.map((m) => ({ label: m.repo, detail: m.detail })), { label: OTHER }];
  const pick = await vscode.window.showQuickPick(items, { title: 'Chimera: Download Model', placeHolder: `From ${hub}` });
  if (!pick) return undefined;
  if (pick.label !== OTHER) return pick.label;
  return vscode.window.showInputBox({ title: 'Chimera: Download Model', prompt: 'Hub repository ID', placeHolder: 'organisation/name', validateInput: (v) => (/^[\w.-]+\/[\w.-]+$/.test(v.trim()) ? undefined : 'organisation/name') });
}

async function chooseGraph(choices: Map<string, HubFile[]>): Promise<string | undefined> {
  const items = [...choices].map(([path, files]) => ({ label: path, description: size(files.reduce((n, f) => n + f.size, 0)) }));
  if (items.length === 1) return items[0]!.label;
  const pick = await vscode.window.showQuickPick(items, { title: 'Chimera: Download Model — precision', placeHolder: 'q4 / int8 graphs are smallest and fastest on a CPU' });
  return pick?.label;
}

export async function downloadModel(context: vscode.ExtensionContext, log: vscode.LogOutputChannel, request?: DownloadRequest): Promise<string | undefined> {
  const hub = hubUrl(log);
  const repo = request?.repo ?? (await chooseRepo(hub))?.trim();
  if (!repo) return undefined;
  try {
    const all = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Chimera: reading the files of ${repo}…` }, () => listFiles(hub, repo));
    const choices = graphChoices(all);
    if (choices.size === 0) throw new HubError(`${repo} has no ONNX graphs; Chimera runs ONNX exports (such as onnx-community's)`, 'not-found');
    const graph = request?.file ?? (await chooseGraph(choices));
    if (!graph) return undefined;
    if (!choices.has(graph)) throw new HubError(`${repo} has no ${graph}`, 'not-found');
    const files = [...supportFiles(all), ...choices.get(graph)!];
    const dest = vscode.Uri.joinPath(context.globalStorageUri, 'models', `${repo.replace('/', '__')}__${graph.replace(/[/\\]/g, '_').replace(/\.onnx$/, '')}`).fsPath;
    log.info(`Downloading ${files.map((f) => f.path).join(', ')} from ${hub}/${repo} into ${dest}.`);
    await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Chimera: downloading ${repo}`, cancellable: true }, async (progress, token) => {
      const controller = new AbortController();
      token.onCancellationRequested(() => controller.abort());
      let reported = 0;
      await downloadFiles({
        hub, repo, files, dest, signal: controller.signal,
        onProgress: (p) => {
          const percent = (100 * p.done) / p.total;
          progress.report({ increment: percent - reported, message: `${size(p.done)} of ${size(p.total)} (${p.file})` });
          reported = percent;
        },
      });
    });
    log.info(`Downloaded ${repo} (${graph}) into ${dest}.`);
    const use = request?.use ?? (await vscode.window.showInformationMessage(`Chimera: ${repo} is downloaded. Use it now?`, 'Use It', 'Not Now')) === 'Use It';
    if (use) await selectModel(log, dest);
    return dest;
  } catch (err) {
    const message = (err as Error).message;
    log.error(`Download of ${repo} failed: ${message}`);
    if (err instanceof HubError && err.kind === 'cancelled') {
      void vscode.window.showInformationMessage('Chimera: download cancelled. Run Download Model again to resume it.');
    } else {
      void vscode.window.showErrorMessage(`Chimera: could not download ${repo}. ${message}`);
    }
    if (request) throw err;
    return undefined;
  }
}
