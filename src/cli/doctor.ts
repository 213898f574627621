/**
 * `chimera doctor`: the GPU diagnosis without the editor. It loads the model the way the engine would
 * (same device rules), then reports and measures (core/gpu/diagnose.ts). A model that cannot be loaded
 * on the requested device still gets a report of what was found, with the load's error, since that is
 * when the report is needed most.
 */
import { diagnose } from '../core/gpu/diagnose';
import { formatDiagnostics } from '../core/gpu/format';
import { loadModel, type LoadedModel } from '../core/model';
import { softwareGpuAllowedByEnv } from '../core/session';
import type { DoctorArgs } from './args';
import { defaultModelDir, stderrLogger } from './common';

export async function runDoctor(args: DoctorArgs): Promise<void> {
  const log = stderrLogger();
  const allowSoftware = args.allowSoftwareGpu ?? softwareGpuAllowedByEnv();
  let model: LoadedModel | null = null;
  let loadError: string | null = null;
  try {
    // The neutral cost profile: the report measures c(1) itself, and a full profile would double the wait.
    model = await loadModel(args.model ?? defaultModelDir(), { device: args.device, allowSoftwareGpu: allowSoftware, log, costs: 'default' });
  } catch (err) {
    loadError = err instanceof Error ? err.message : String(err);
  }
  try {
    const report = await diagnose({ model, device: args.device, allowSoftware, measure: args.measure, log });
    process.stdout.write(args.json ? JSON.stringify({ ...report, ...(loadError ? { loadError } : {}) }, null, 1) + '\n' : formatDiagnostics(report) + (loadError ? `\nThe model did not load: ${loadError}\n` : ''));
    if (loadError) process.exitCode = 1;
  } finally {
    await model?.dispose();
  }
}
