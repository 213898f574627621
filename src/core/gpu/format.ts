/**
 * The GPU diagnosis as text a person can read (and paste into a bug report): `chimera doctor` prints it
 * and *Chimera: Show GPU Diagnostics* opens it in an editor. The order follows the questions a user
 * asks: what is this machine, what could run the model, what was found, what was chosen and why not
 * the others, and what each costs.
 */
import type { GpuDiagnostics, ProviderAttempt, ProviderCost } from './types';

const pad = (text: string, width: number) => text.padEnd(width);

function header(d: GpuDiagnostics): string[] {
  const p = d.platform;
  const runtime = [`${p.os} ${p.arch}`, `Node ${p.node}`, ...(p.electron ? [`Electron ${p.electron}`] : []), `onnxruntime-node ${p.onnxruntime}`];
  const software = d.request.allowSoftware ? 'allowed (asked for)' : 'used only when asked for (chimera.gpu.allowSoftware or CHIMERA_ALLOW_SOFTWARE_GPU=1)';
  return [
    'Chimera Code: GPU diagnostics',
    '',
    `Platform          ${runtime.join(' · ')}`,
    `Device setting    ${d.request.device}; software adapters ${software}`,
    `Model             ${d.model ? `${d.model.name} (${d.model.path})` : 'none loaded'}`,
  ];
}

function providers(d: GpuDiagnostics): string[] {
  return ['', 'Execution providers in this onnxruntime build', ...d.providers.map((p) => `  ${pad(p.name, 8)} ${pad(p.present ? 'present' : 'absent', 8)} ${p.detail}`)];
}

function adapters(d: GpuDiagnostics): string[] {
  const s = d.scan;
  const lines = ['', 'Adapters found'];
  if (s.adapters.length === 0) lines.push('  none');
  for (const a of s.adapters) lines.push(`  ${a.name} · ${a.vendor} · ${a.backend} · ${a.software ? 'software (renders on the CPU)' : 'hardware'} · ${a.source}`);
  if (s.deviceNodes !== null) lines.push(`GPU device nodes  ${s.deviceNodes.length > 0 ? s.deviceNodes.join(', ') : 'none'}`);
  if (s.deviceNodes !== null || s.hardware.length > 0) lines.push(`GPUs on the PCI bus  ${s.hardware.length > 0 ? s.hardware.join('; ') : 'none'}`);
  if (s.notes.length > 0) lines.push('', 'Findings', ...s.notes.map((n) => `  - ${n}`));
  return lines;
}

function choice(d: GpuDiagnostics): string[] {
  const c = d.chosen;
  // A fallback's reason repeats every candidate's; the list below says the same, one per line.
  const fellBack = c?.provider === 'cpu' && d.request.device !== 'cpu';
  const reason = fellBack ? 'no GPU candidate was usable (see below), so the CPU runs the model' : c?.reason;
  const chosen = c ? `${c.provider}${c.software ? ' (software adapter)' : ''}: ${reason}` : 'nothing yet (no model loaded)';
  const row = (a: ProviderAttempt, i: number) => `  ${i + 1}. ${pad(a.provider, 7)} ${pad(a.outcome, 8)} ${a.reason}`;
  return ['', `Chosen            ${chosen}`, '', 'GPU candidates of this platform, in the order tried', ...(d.attempts.length > 0 ? d.attempts.map(row) : ['  none'])];
}

function costs(d: GpuDiagnostics): string[] {
  if (d.costs.length === 0) return d.model ? ['', 'c(1) was not measured.'] : [];
  const row = (c: ProviderCost) => `  ${pad(c.provider, 8)} ${c.c1Ms !== undefined ? `${c.c1Ms.toFixed(2)} ms` : `failed: ${c.error ?? 'unknown error'}`}${c.software ? '  (software adapter)' : ''}`;
  return ['', 'c(1): the target verifying one token after a few hundred cached ones, per usable provider', ...d.costs.map(row)];
}

export function formatDiagnostics(d: GpuDiagnostics): string {
  return [...header(d), ...providers(d), ...adapters(d), ...choice(d), ...costs(d), ''].join('\n');
}
