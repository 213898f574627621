"""The tokenizer: special tokens at fixed ids, and the JS library the engine uses gives the same ids."""
import json
import subprocess
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from chimera_train.tokenizer import SPECIAL_TOKENS, special_ids, train_tokenizer

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = [
    "def add(a, b):\n    return a + b\n",
    "export async function fetchUser(id: string): Promise<User> {\n\treturn await db.get(id);\n}\n",
    "const s = `template ${x}`; // comment with émojis 🚀 and 中文\n",
    "    \n\n\t\t  trailing   spaces   \n",
    "x<|endoftext|>y <|fim_prefix|> literal specials in code",
    "class Foo:\n    '''Doc string.'''\n    pass\n" * 3,
    "0x1F + 1e-5 - 3.14159 * 2**10",
    "",
    "\u00a0\u2028 odd whitespace \r\n windows line",
]


@pytest.fixture(scope="module")
def tokenizer_path(tmp_path_factory) -> Path:
    committed = ROOT / "models" / "default" / "tokenizer.json"
    if committed.exists():
        return committed
    texts = [t for t in SAMPLE if t] * 50
    tok = train_tokenizer(texts, 400)
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    tok.save(str(path))
    return path


def test_special_tokens_have_fixed_ids(tokenizer_path):
    tok = Tokenizer.from_file(str(tokenizer_path))
    assert list(special_ids(tok).values()) == list(range(len(SPECIAL_TOKENS)))


def test_js_tokenizer_gives_the_same_ids(tokenizer_path):
    module = ROOT / "node_modules" / "@huggingface" / "tokenizers"
    assert module.is_dir(), f"{module} is missing: run `npm ci` in {ROOT} first"
    tok = Tokenizer.from_file(str(tokenizer_path))
    corpus_sample = [p.read_text() for p in sorted((ROOT / "src").rglob("*.ts"))[:20]]
    texts = SAMPLE + corpus_sample
    out = subprocess.run(["node", str(Path(__file__).with_name("js_tokenize.cjs"))], check=True,
                         input=json.dumps({"tokenizer": str(tokenizer_path), "texts": texts}),
                         capture_output=True, text=True)
    js = json.loads(out.stdout)
    tok.encode_special_tokens = False
    assert js["ids"] == [e.ids for e in tok.encode_batch(texts, add_special_tokens=False)]
    tok.encode_special_tokens = True
    literal = [e.ids for e in tok.encode_batch(texts, add_special_tokens=False)]
    assert js["literal_ids"] == literal
    assert tok.token_to_id("<|endoftext|>") not in literal[4], "special strings in code must stay text"
