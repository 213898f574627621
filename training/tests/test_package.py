"""The package validator rejects every defect with a message naming the file and the problem."""
import json
import shutil
from pathlib import Path

import onnx
import pytest

from chimera_train.package import PackageError, validate_package

FIXTURE = Path(__file__).resolve().parents[2] / "test" / "fixtures" / "tiny-package"


@pytest.fixture
def package(tmp_path) -> Path:
    out = tmp_path / "pkg"
    shutil.copytree(FIXTURE, out)
    return out


def edit_manifest(folder: Path, change) -> None:
    path = folder / "chimera.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def test_fixture_is_valid_and_small():
    manifest = validate_package(FIXTURE)
    assert manifest["draft"]["n_steps"] >= 4
    assert sum(p.stat().st_size for p in FIXTURE.iterdir()) < 2_000_000


def test_missing_file_is_named(package):
    (package / "draft.onnx").unlink()
    with pytest.raises(PackageError, match=r"draft\.onnx: missing"):
        validate_package(package)


def test_missing_manifest_is_named(package):
    (package / "chimera.json").unlink()
    with pytest.raises(PackageError, match=r"chimera\.json: missing"):
        validate_package(package)


def test_corrupt_weights_fail_the_checksum(package):
    data = bytearray((package / "target.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (package / "target.onnx").write_bytes(bytes(data))
    with pytest.raises(PackageError, match=r"target\.onnx: sha256 mismatch"):
        validate_package(package)


def test_dimension_disagreement_is_reported(package):
    edit_manifest(package, lambda m: m["model"].update(vocab_size=m["model"]["vocab_size"] + 1))
    with pytest.raises(PackageError, match=r"target\.onnx: logits vocabulary dimension is \d+ in the graph"):
        validate_package(package)


def test_input_name_disagreement_is_reported(package):
    edit_manifest(package, lambda m: m["io"]["target"]["inputs"].__setitem__(0, "tokens"))
    with pytest.raises(PackageError, match=r"target\.onnx: input names disagree.*missing \['tokens'\]"):
        validate_package(package)


def test_renamed_graph_input_is_caught_even_with_a_fresh_checksum(package):
    path = package / "target.onnx"
    model = onnx.load(str(path))
    model.graph.input[1].name = "positions"
    onnx.save(model, str(path))
    from chimera_train.package import sha256_of
    edit_manifest(package, lambda m: m["files"]["target"].update(sha256=sha256_of(path)))
    with pytest.raises(PackageError, match=r"target\.onnx: input names disagree"):
        validate_package(package)


def test_tree_deeper_than_the_draft_is_rejected(package):
    edit_manifest(package, lambda m: m["tree"]["paths"].append([0, 0, 0, 0, 0, 0]))
    with pytest.raises(PackageError, match=r"tree path"):
        validate_package(package)


def test_unsupported_format_version(package):
    edit_manifest(package, lambda m: m.update(format_version=99))
    with pytest.raises(PackageError, match=r"unsupported format"):
        validate_package(package)
