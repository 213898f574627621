"""Training sample layouts: FIM in prefix-suffix-middle order and chat turns, as the engine builds them."""
import random

from tokenizers import Tokenizer

from chimera_train.chat_samples import chat_examples, jsdoc_units, python_units
from chimera_train.data import Encoder, Mix, build_stream, fim_split, line_aligned_windows
from test_tokenizer import tokenizer_path  # noqa: F401 (fixture)

PY = '''
def area(width, height):
    """Return the area of a rectangle with the given width and height."""
    result = width * height
    # never negative
    return abs(result)
'''
JS = '''
/**
 * Adds two numbers together and returns their sum.
 */
export function add(a, b) {
  const total = a + b;
  return total;
}
'''


def test_fim_split_reassembles():
    rng = random.Random(0)
    for _ in range(200):
        p, m, s = fim_split(PY, rng)
        assert p + m + s == PY


def test_windows_cover_the_text():
    text = PY * 300
    assert "".join(line_aligned_windows(text, 1000)) == text


def test_fim_document_layout(tokenizer_path):  # noqa: F811
    enc = Encoder(Tokenizer.from_file(str(tokenizer_path)))
    stream = build_stream([{"text": PY, "file": "geo.py", "lang": "python"}], enc.tok, seed=3,
                          mix=Mix(fim_rate=1.0, header_rate=1.0, chat_per_doc=0.0)).tolist()
    sp = enc.ids
    assert stream[0] == sp["file"]
    i_pre, i_suf, i_mid = stream.index(sp["fim_prefix"]), stream.index(sp["fim_suffix"]), stream.index(sp["fim_middle"])
    assert i_pre + 1 == i_suf < i_mid and stream[-1] == sp["eot"]  # SPM: suffix first, prefix then middle
    suffix = enc.tok.decode(stream[i_suf + 1:i_mid])
    prefix_and_middle = enc.tok.decode(stream[i_mid + 1:-1])
    assert prefix_and_middle + suffix == PY


def test_chat_samples_from_python_and_js():
    assert [u[0] for u in python_units(PY)] == ["area"]
    assert [u[0] for u in jsdoc_units(JS)] == ["add"]
    rng = random.Random(5)
    kinds = set()
    for _ in range(60):
        for messages in chat_examples({"text": PY, "lang": "python"}, rng, 1.0):
            assert [r for r, _ in messages] == ["user", "assistant"]
            kinds.add(messages[0][1].split()[0])
    assert {"Explain", "Write"} <= kinds and len(kinds) >= 3
