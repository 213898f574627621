/**
 * Reading a streamed answer: server-sent events (OpenAI routes, llama.cpp's `/infill`), parsed by
 * eventsource-parser, or newline-delimited JSON (Ollama's native routes). Each yields the JSON objects
 * in order; an SSE stream ends at `data: [DONE]` or when the server closes it.
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { RemoteError } from './errors';

/** Called for every chunk of bytes that arrives (it keeps the idle timeout from firing). */
export type OnChunk = () => void;

export async function* sseEvents(body: ReadableStream<Uint8Array>, onChunk: OnChunk): AsyncGenerator<unknown> {
  const pending: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (event) => pending.push(event) });
  for await (const text of decodedChunks(body, onChunk)) {
    parser.feed(text);
    while (pending.length > 0) {
      const event = pending.shift()!;
      if (event.data === '[DONE]') return;
      yield parseJson(event.data, 'an event');
    }
  }
}

export async function* ndjsonEvents(body: ReadableStream<Uint8Array>, onChunk: OnChunk): AsyncGenerator<unknown> {
  let buffered = '';
  for await (const text of decodedChunks(body, onChunk)) {
    buffered += text;
    let newline: number;
    while ((newline = buffered.indexOf('\n')) !== -1) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (line !== '') yield parseJson(line, 'a line');
    }
  }
  if (buffered.trim() !== '') yield parseJson(buffered.trim(), 'a line');
}

async function* decodedChunks(body: ReadableStream<Uint8Array>, onChunk: OnChunk): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      onChunk();
      yield decoder.decode(value, { stream: true });
    }
    const rest = decoder.decode();
    if (rest !== '') yield rest;
  } finally {
    // A reader that stops early (a stop string, a settled suggestion) closes the connection with it.
    void reader.cancel().catch(() => undefined);
  }
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new RemoteError('server', `the server sent ${what} that is not JSON: ${text.slice(0, 120)}`);
  }
}
