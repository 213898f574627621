/** `chimera generate`: one prompt, streamed to stdout, optionally with statistics as JSON. */
import { answerRoom, splitContext } from '../core/bounds';
import { DecodingSession, type GenerationResult } from '../core/decoder';
import { TemplateRegistry, type Prompt } from '../core/templates';
import type { GenerateArgs } from './args';
import { openModel, readArgFile } from './common';

export async function runGenerate(args: GenerateArgs): Promise<void> {
  const model = await openModel(args.model, { device: args.device, maxContext: args.maxContext });
  const session = await DecodingSession.create(model);
  const templates = new TemplateRegistry(model.manifest, model.tokenizer);
  try {
    const text = args.prompt ?? (await readArgFile(args.promptFile!, 'prompt file'));
    // The engine's policy (core/bounds.ts): the answer may ask for up to half the context, the prompt
    // keeps the rest, and whatever the prompt leaves is the answer's. Too many tokens asked for is said.
    const context = model.context;
    const budget = splitContext(context, args.maxTokens).prompt;
    let built: Prompt;
    let stopIds: number[] | undefined;
    if (args.suffixFile) {
      built = templates.fim({ prefix: text, suffix: await readArgFile(args.suffixFile, 'suffix file') }, budget);
      stopIds = templates.stopTokenIds('fim');
    } else if (args.chat) {
      built = templates.chat([{ role: 'user', content: text }], budget);
      stopIds = templates.stopTokenIds('chat');
    } else {
      built = templates.plain(text, budget);
    }
    const prompt = built.tokens;
    const maxTokens = answerRoom(context, prompt.length, args.maxTokens);
    if (maxTokens < args.maxTokens) process.stderr.write(`chimera: warn: --max-tokens ${args.maxTokens} does not fit the context of ${context} tokens with this prompt (${prompt.length} tokens); generating at most ${maxTokens}\n`);
    if (built.trim) process.stderr.write(`chimera: warn: the prompt is longer than the context allows; the model reads its last ${prompt.length} tokens (${built.trim.droppedChars} characters left out)\n`);
    const mode = args.mode === 'chimera' && !session.hasDraft ? 'ngram' : args.mode;
    if (mode !== args.mode) process.stderr.write(`chimera: warn: ${model.manifest.name} has no Chimera draft; using the ngram mode\n`);
    const stream = session.generate({
      prompt, maxTokens, mode, stopTokenIds: stopIds, healed: built.healed,
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
      const limits = { maxTokensAsked: args.maxTokens, maxTokens, promptTokens: prompt.length, ...(built.trim ? { promptTrimmed: built.trim } : {}) };
      process.stdout.write(JSON.stringify({ text: result.text, finishReason: result.finishReason, device: model.device.kind, stats, limits }, null, 2) + '\n');
    } else if (!result.text.endsWith('\n')) {
      process.stdout.write('\n');
    }
  } finally {
    session.dispose();
    await model.dispose();
  }
}
