"""Corpus building: licence filter, generated-code filter, dedup, and a deterministic split by file."""
import json
from pathlib import Path

from chimera_train.corpus import (SourcePackage, build_corpus, is_permissive, looks_generated, split_large,
                                  split_of)


def test_licences():
    for ok in ["MIT", "Apache-2.0", "BSD-3-Clause", "(MIT OR GPL-3.0-or-later)", "ISC", "PSF-2.0"]:
        assert is_permissive(ok), ok
    for bad in ["GPL-3.0", "LGPL-2.1+", "MPL-2.0", "", "UNLICENSED-PROPRIETARY", "SEE LICENSE IN LICENSE.txt"]:
        assert not is_permissive(bad), bad


def test_generated_code_is_dropped():
    assert looks_generated("var a=1;" * 500)  # one huge line: minified
    assert not looks_generated("def f(x):\n    return x + 1\n" * 20)


def test_split_is_stable_and_mostly_train():
    paths = [f"npm/pkg/file{i}.js" for i in range(2000)]
    first = [split_of(p) for p in paths]
    assert first == [split_of(p) for p in paths]
    assert 20 < first.count("val") < 120


def test_large_files_are_cut_at_blank_lines():
    text = "".join(f"def f{i}():\n    return {i}\n\n" for i in range(20000))
    pieces = split_large(text, limit=5000)
    assert "".join(pieces) == text
    assert all(len(p) <= 5000 for p in pieces)


def test_build_writes_manifest_and_dedups(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    body = "def f(x):\n    return x * 2\n" * 20
    (src / "a.py").write_text(body)
    (src / "b.py").write_text(body)  # duplicate content
    (src / "c.js").write_text("x=1;" * 1000)  # minified
    pkg = SourcePackage("test", "demo", "1.0", "MIT", src, [src / "a.py", src / "b.py", src / "c.js"])
    stats = build_corpus(tmp_path / "out", iter([pkg]), {})
    assert (stats.files, stats.dropped_duplicate, stats.dropped_generated) == (1, 1, 1)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["packages"] == [{"source": "test", "name": "demo", "version": "1.0", "license": "MIT", "files": 1}]
    docs = [json.loads(l) for f in ("train.jsonl", "val.jsonl") for l in (tmp_path / "out" / f).read_text().splitlines()]
    assert [d["text"] for d in docs] == [body]
