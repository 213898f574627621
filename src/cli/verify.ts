/** `chimera verify`: checks a model package's numbers against reference cases (see core/verify.ts). */
import { join } from 'node:path';
import { parseVerifyCases, verifyModel, type VerifyReport } from '../core/verify';
import type { VerifyArgs } from './args';
import { defaultModelDir, openModel, readArgFile } from './common';

/** Cases a converter writes into the package it makes (training/chimera_train/convert.py). */
export const PACKAGE_CASES = 'verify.json';

function summary(report: VerifyReport): string {
  const lines = report.cases.map((c) => {
    const steps = c.steps.map((s) => (s.maxLogitDiff === undefined ? `${s.tokens} tokens (no expected values)` : `${s.tokens} tokens: logits ${s.maxLogitDiff.toExponential(2)}, hidden ${s.maxHiddenDiff!.toExponential(2)}${s.argmaxAgrees ? '' : ', argmax differs'}`));
    return `${c.pass ? 'ok  ' : 'FAIL'} ${c.name}: ${steps.join('; ')}`;
  });
  const agreement = `greedy token agrees with the reference on ${(report.top1Agreement * 100).toFixed(1)} % of rows`;
  const bound = report.tolerance !== null ? `tolerance ${report.tolerance}` : `quantized: no tolerance applies; ${agreement}, at least ${((report.minAgreement ?? 0) * 100).toFixed(0)} % required`;
  lines.push(`${report.pass ? 'pass' : 'FAIL'}: max |difference| logits ${report.maxLogitDiff.toExponential(2)}, hidden ${report.maxHiddenDiff.toExponential(2)} (${bound})`);
  if (report.tolerance !== null) lines.push(agreement);
  return lines.join('\n') + '\n';
}

export async function runVerify(args: VerifyArgs): Promise<void> {
  const casesPath = args.cases ?? join(args.model ?? defaultModelDir(), PACKAGE_CASES);
  const cases = parseVerifyCases(await readArgFile(casesPath, 'cases file'), casesPath);
  const model = await openModel(args.model, { device: args.device, hashAll: true });
  try {
    const quantized = cases.tolerance === null && args.tolerance === undefined;
    const report = await verifyModel(model, cases, quantized ? null : (args.tolerance ?? cases.tolerance ?? 1e-4), quantized ? (cases.min_agreement ?? 0.9) : null);
    process.stdout.write(args.json ? JSON.stringify({ device: model.device.kind, ...report }, null, 1) + '\n' : summary(report));
    if (!report.pass) process.exitCode = 1;
  } finally {
    await model.dispose();
  }
}
