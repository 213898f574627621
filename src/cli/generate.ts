/** `chimera generate`: one prompt, streamed to stdout, optionally with statistics as JSON. */
import { DecodingSession, type GenerationResult } from '../core/decoder';
import { TemplateRegistry } from '../core/templates';
import type { GenerateArgs } from './args';
import { openModel, readArgFile } from './common';

export async function runGenerate(args: GenerateArgs): Promise<void> {
  const model = await openModel(args.model, args.device);
  const session = await DecodingSession.create(model);
  const templates = new TemplateRegistry(model.manifest, model.tokenizer);
  try {
    const text = args.prompt ?? (await readArgFile(args.promptFile!, 'prompt file'));
    const budget = model.manifest.model.max_context - args.maxTokens - 32;
    let prompt: number[];
    let stopIds: number[] | undefined;
    if (args.suffixFile) {
      prompt = templates.fim({ prefix: text, suffix: await readArgFile(args.suffixFile, 'suffix file') }, budget).tokens;
      stopIds = templates.stopTokenIds('fim');
    } else if (args.chat) {
      prompt = templates.chat([{ role: 'user', content: text }], budget).tokens;
      stopIds = templates.stopTokenIds('chat');
    } else {
      prompt = templates.plain(text, budget).tokens;
    }
    const mode = args.mode === 'chimera' && !session.hasDraft ? 'ngram' : args.mode;
    if (mode !== args.mode) process.stderr.write(`chimera: warn: ${model.manifest.name} has no Chimera draft; using the ngram mode\n`);
    const stream = session.generate({
      prompt, maxTokens: args.maxTokens, mode, stopTokenIds: stopIds,
      sampling: { temperature: args.temperature, topK: 0, topP: args.temperature > 0 ? 0.95 : 1 }, seed: args.seed,
    });
    let result: GenerationResult | undefined;
    for (;;) {
      const next = await stream.next();
      if (next.done) {
        result = next.value;
        break;
      }
      if (!args.json) process.stdout.write(next.value);
    }
    if (args.json) {
      const { startedAt: _, ...stats } = result.stats;
      process.stdout.write(JSON.stringify({ text: result.text, finishReason: result.finishReason, device: model.device.kind, stats }, null, 2) + '\n');
    } else if (!result.text.endsWith('\n')) {
      process.stdout.write('\n');
    }
  } finally {
    session.dispose();
    await model.dispose();
  }
}
