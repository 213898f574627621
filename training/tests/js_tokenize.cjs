// Encodes texts with @huggingface/tokenizers (the engine's tokenizer library) for the parity test.
// stdin: {"tokenizer": path, "texts": [...]}; stdout: {"ids": [[...]...], "literal_ids": [[...]...]}.
// "literal" drops the added-token table so special-token strings inside code are ordinary text,
// which is how the engine encodes user code (Python's encode_special_tokens=True).
const fs = require("fs");
const path = require("path");
const { Tokenizer } = require(path.resolve(__dirname, "../../node_modules/@huggingface/tokenizers"));
const input = JSON.parse(fs.readFileSync(0, "utf8"));
const json = JSON.parse(fs.readFileSync(input.tokenizer, "utf8"));
const normal = new Tokenizer(json, {});
const literal = new Tokenizer({ ...json, added_tokens: [] }, {});
const enc = (tok, t) => tok.encode(t, { add_special_tokens: false }).ids;
process.stdout.write(JSON.stringify({
  ids: input.texts.map((t) => enc(normal, t)),
  literal_ids: input.texts.map((t) => enc(literal, t)),
}));
