/**
 * The GPU diagnosis: the platform, the execution providers of this onnxruntime build, the adapters found,
 * what the loaded model runs on, and for every other GPU candidate why it was refused or what it would
 * cost. Each candidate that was not refused by rule is tried on the model's own target graph (its
 * session created and run once, as a load would), and c(1) is measured on each one that works and on
 * the CPU, so "why is my GPU not used" comes with numbers. `chimera doctor` and the editor's
 * *Show GPU Diagnostics* both print this report (format.ts).
 */
import type { LoadedModel } from '../model';
import { measureC1 } from '../profile';
import { cpuArenaFor, firstLine, gpuEnvironment, loadOrt, openCpu, openOn, refusal, type DeviceRequest, type GpuEnvironment, type Logger, type Session } from '../session';
import { softwareOnly } from './adapters';
import { gpuCandidates, type GpuProvider } from './providers';
import type { GpuDiagnostics, ProviderAttempt, ProviderCost, ProviderName } from './types';

export interface DiagnoseOptions {
  /** The model to try candidates with and measure; null reports what can be known without one. */
  model: LoadedModel | null;
  device: DeviceRequest;
  allowSoftware: boolean;
  /** Measure c(1) on each usable provider. */
  measure: boolean;
  log: Logger;
}

/** A provider that works, with a session on the model's target graph (the loaded model's own for the chosen one). */
interface Usable {
  provider: ProviderName;
  session: Session;
  owned: boolean;
}

export async function diagnose(o: DiagnoseOptions): Promise<GpuDiagnostics> {
  const env = await gpuEnvironment();
  const chosen = o.model ? { provider: o.model.device.kind, software: o.model.device.software, reason: o.model.device.reason } : null;
  const usable: Usable[] = o.model ? [{ provider: o.model.device.kind, session: o.model.target, owned: false }] : [];
  try {
    const attempts: ProviderAttempt[] = [];
    for (const provider of gpuCandidates(process.platform)) attempts.push(await judge(provider, o, env, usable));
    if (o.model && chosen?.provider !== 'cpu') usable.push(await cpuSession(o.model));
    const costs = o.model && o.measure ? await measureAll(o.model, usable, env, o.log) : [];
    return { platform: platform(), request: { device: o.device, allowSoftware: o.allowSoftware }, providers: env.providers, scan: env.scan, chosen, attempts, costs, model: o.model ? { name: o.model.manifest.name, path: o.model.pkg.dir } : null };
  } finally {
    for (const u of usable) if (u.owned) await u.session.release();
  }
}

/** What one GPU candidate comes to here: the load's own verdict where it has one, else a fresh try. */
async function judge(provider: GpuProvider, o: DiagnoseOptions, env: GpuEnvironment, usable: Usable[]): Promise<ProviderAttempt> {
  const earlier = o.model?.device.attempts.find((a) => a.provider === provider);
  if (earlier && earlier.outcome !== 'skipped') return earlier;
  const refused = refusal(provider, env, o.allowSoftware);
  if (refused) return { provider, outcome: 'refused', reason: refused };
  if (!o.model) return { provider, outcome: 'skipped', reason: 'not tried: no model is loaded to try it with' };
  try {
    const session = await openOn(provider, { path: o.model.pkg.targetPath, device: 'gpu', log: o.log, gpuResidentOutputs: o.model.target.outputNames.filter((n) => n.startsWith('present')) });
    usable.push({ provider, session, owned: true });
    const why = o.model.device.kind === 'cpu' ? (o.device === 'cpu' ? 'the CPU was requested' : 'the load did not try it') : `${o.model.device.kind} was chosen first`;
    return { provider, outcome: 'usable', reason: `works, but ${why}` };
  } catch (err) {
    return { provider, outcome: 'failed', reason: firstLine(err) };
  }
}

async function cpuSession(model: LoadedModel): Promise<Usable> {
  return { provider: 'cpu', session: await openCpu(model.pkg.targetPath, undefined, cpuArenaFor(model.manifest.model.d_model)), owned: true };
}

async function measureAll(model: LoadedModel, usable: Usable[], env: GpuEnvironment, log: Logger): Promise<ProviderCost[]> {
  const costs: ProviderCost[] = [];
  for (const u of usable) {
    const software = u.provider !== 'cpu' && softwareOnly(env.scan, u.provider) !== null;
    try {
      // The same model on another session: the target's cache follows the provider (device cache on WebGPU).
      const onProvider = { ...model, target: u.session, device: { ...model.device, kind: u.provider } };
      const c1Ms = await measureC1(onProvider);
      costs.push({ provider: u.provider, software, c1Ms });
    } catch (err) {
      log('warn', `diagnostics: measuring c(1) on ${u.provider} failed: ${firstLine(err)}`);
      costs.push({ provider: u.provider, software, error: firstLine(err) });
    }
  }
  return costs;
}

function platform(): GpuDiagnostics['platform'] {
  const versions = loadOrt().env.versions as { node?: string; common?: string };
  return {
    os: process.platform,
    arch: process.arch,
    node: process.versions.node,
    ...(process.versions.electron ? { electron: process.versions.electron } : {}),
    onnxruntime: versions.node ?? versions.common ?? 'unknown',
  };
}
