"""Converted Hugging Face checkpoints must compute what transformers computes (1e-4 in fp32), from
onnxruntime in Python and from the TypeScript engine (`chimera verify`), for a prefill, a decode step on a
cache and a tree-masked block. Each family is a tiny random checkpoint saved in several shards."""
import json
import shutil

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from chimera_train.convert import convert
from chimera_train.lookup import HOST_LOOKUP_INPUT, host_embeddings
from chimera_train.package import validate_package
from chimera_train.tiny_hf import build_checkpoint
from chimera_train.verify_cases import case_inputs, fill_expected
from node_cli import run_verify

TOL = 1e-4
FAMILIES = ["qwen2", "llama", "mistral"]


@pytest.fixture(scope="module", params=FAMILIES)
def converted(request, tmp_path_factory):
    """(family, transformers model, checkpoint folder, package folder)."""
    root = tmp_path_factory.mktemp(request.param)
    hf = build_checkpoint(request.param, root / "checkpoint")
    convert(root / "checkpoint", root / "package", log=lambda _: None)
    return request.param, hf, root / "checkpoint", root / "package"


def hf_reference(hf):
    def forward(ids):
        with torch.no_grad():
            out = hf(torch.tensor([ids]), output_hidden_states=True)
        return out.logits[0], out.hidden_states[-1][0]
    return forward


def tree_bias(parents: list[int], past: int) -> np.ndarray:
    t = len(parents)
    bias = np.full((1, 1, t, past + t), -np.inf, dtype=np.float32)
    bias[..., :past] = 0
    for i in range(t):
        j = i
        while j != -1:
            bias[0, 0, i, past + j] = 0
            j = parents[j]
    return bias


def step_inputs(step: dict, past: int) -> tuple[np.ndarray, np.ndarray]:
    t = len(step["tokens"])
    parents = step.get("parents") or [i - 1 for i in range(t)]  # a chain is the causal mask
    depth = [0] * t
    for i in range(1, t):
        depth[i] = depth[parents[i]] + 1
    return np.array([[past + d for d in depth]], dtype=np.int64), tree_bias(parents, past)


def run_ort(session, manifest, case, folder=None) -> list[tuple[np.ndarray, np.ndarray]]:
    """The engine's use of target.onnx, in Python: blocks on a sequence-major cache that grows by `present`,
    and embeddings read from the package's data file where the graph takes them (`folder`, lookup.py)."""
    m = manifest["model"]
    past_names = [n for n in manifest["io"]["target"]["inputs"] if n.startswith("past_key_values.")]
    cache = [np.zeros((1, 0, m["n_kv_heads"], m["head_dim"]), np.float32) for _ in range(2 * m["n_layers"])]
    results = []
    for step in case["steps"]:
        positions, bias = step_inputs(step, cache[0].shape[1])
        feeds = {"input_ids": np.array([step["tokens"]], dtype=np.int64), "position_ids": positions,
                 "attention_bias": bias, "logits_to_keep": np.array([step.get("keep", len(step["tokens"]))])}
        feeds.update({name: cache[i] for i, name in enumerate(past_names)})
        if HOST_LOOKUP_INPUT in manifest["io"]["target"]["inputs"]:
            feeds[HOST_LOOKUP_INPUT] = host_embeddings(folder, manifest, step["tokens"])
        logits, hidden, *present = session.run(None, feeds)
        cache = [np.concatenate([c, p], axis=1) for c, p in zip(cache, present)]
        results.append((logits[0], hidden[0]))
    return results


def max_differences(cases, results) -> dict[str, float]:
    out = {}
    for case, rows in zip(cases, results):
        for i, (step, (logits, hidden)) in enumerate(zip(case["steps"], rows)):
            e = step["expect"]
            out[f"{case['name']}.{i}.logits"] = float(np.abs(logits - np.array(e["logits"])).max())
            out[f"{case['name']}.{i}.hidden"] = float(np.abs(hidden - np.array(e["hidden"])).max())
    return out


def test_onnxruntime_matches_transformers(converted):
    family, hf, _, package = converted
    manifest = validate_package(package)
    session = ort.InferenceSession(str(package / "target.onnx"), providers=["CPUExecutionProvider"])
    cases = fill_expected(case_inputs(hf.config.vocab_size, seed=1), hf_reference(hf))
    diffs = max_differences(cases, [run_ort(session, manifest, c) for c in cases])
    print(family, "onnxruntime vs transformers", json.dumps(diffs))
    assert max(diffs.values()) < TOL, diffs
    spread = np.ptp(np.array(cases[0]["steps"][0]["expect"]["logits"]))
    assert spread > 1.0, "logits too flat for the comparison to mean anything"


def test_typescript_engine_matches_transformers(converted, tmp_path):
    family, hf, _, package = converted
    cases = fill_expected(case_inputs(hf.config.vocab_size, seed=2), hf_reference(hf))
    path = tmp_path / "cases.json"
    path.write_text(json.dumps({"cases": cases}))
    report = run_verify(package, path, tolerance=TOL)
    print(family, "TypeScript engine vs transformers", json.dumps(
        {c["name"]: [(s["maxLogitDiff"], s["maxHiddenDiff"]) for s in c["steps"]] for c in report["cases"]}))
    assert report["pass"] and report["maxLogitDiff"] < TOL and report["maxHiddenDiff"] < TOL, report
    assert all(s["argmaxAgrees"] for c in report["cases"] for s in c["steps"])


def test_the_packages_own_verify_json_passes_in_the_engine(converted):
    _, _, _, package = converted
    report = run_verify(package)
    assert report["pass"] and [c["name"] for c in report["cases"]] == ["prefill", "decode", "tree"]


def test_templates_and_special_tokens_follow_the_family(converted):
    family, _, _, package = converted
    m = json.loads((package / "chimera.json").read_text())
    fim, chat, special = m["templates"]["fim"], m["templates"]["chat"], m["special_tokens"]
    if family == "qwen2":
        assert chat["turn"] == "<|im_start|>{role}\n{content}<|im_end|>\n" and not m["add_bos_token"]
        assert fim["layout"] == "{file_header}<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>"
        assert fim["file_header"] == "<|file_sep|>{path}\n" and special["eot"]["text"] == "<|endoftext|>"
        assert {"<|im_end|>", "<|endoftext|>"} == {s["text"] for s in special.values() if s["id"] in m["stop_token_ids"]}
    elif family == "llama":
        assert fim is None and m["add_bos_token"] and special["bos"]["text"] == "<|begin_of_text|>"
        assert chat["turn"] == "<|start_header_id|>{role}<|end_header_id|>\n\n{content}<|eot_id|>"
        assert special["eot"]["text"] == "<|end_of_text|>"
    else:
        assert fim["layout"] == "{file_header}[SUFFIX]{suffix}[PREFIX]{prefix}" and m["add_bos_token"]
        assert chat["turns"]["assistant"] == "{content}</s>" and special["end_inst"]["text"] == "[/INST]"
    assert m["model"]["n_kv_heads"] < m["model"]["n_heads"] and m["draft"] is None


def test_fp16_with_external_data(tmp_path):
    hf = build_checkpoint("qwen2", tmp_path / "checkpoint")
    manifest = convert(tmp_path / "checkpoint", tmp_path / "package", dtype="fp16", external="yes", log=lambda _: None)
    assert manifest["files"]["target_data"]["path"] == "target.onnx.data" and manifest["model"]["dtype"] == "float16"
    assert (tmp_path / "package" / "target.onnx").stat().st_size < 100_000  # the weights are in the data file
    session = ort.InferenceSession(str(tmp_path / "package" / "target.onnx"), providers=["CPUExecutionProvider"])
    cases = fill_expected(case_inputs(hf.config.vocab_size, seed=3), hf_reference(hf))
    diffs = max_differences(cases, [run_ort(session, manifest, c) for c in cases])
    print("qwen2 fp16 onnxruntime vs transformers fp32", json.dumps(diffs))
    assert max(diffs.values()) < 5e-2, diffs  # fp16 weights and activations round at ~1e-3 relative
    assert run_verify(tmp_path / "package")["pass"]  # the engine finds the external data next to the graph


@pytest.mark.parametrize("quant", ["int8", "int4"])
def test_quantized_external_package_looks_embeddings_up_on_the_host(tmp_path, quant):
    """With external data, a quantized target takes `inputs_embeds`: the engine reads the rows of the LM
    head's own quantized table from the data file (lookup.py). The logits equal those of the same weights
    looked up inside the graph (an inline package), and the engine's verify passes."""
    hf = build_checkpoint("qwen2", tmp_path / "checkpoint")
    packages = {}
    for external in ("yes", "no"):
        out = tmp_path / f"package-{external}"
        packages[external] = (out, convert(tmp_path / "checkpoint", out, quant=quant, quant_block=32, external=external,
                                           log=lambda _: None))
    out, manifest = packages["yes"]
    spec = manifest["quantization"]["embedding_lookup"]
    graph = onnx.load(str(out / "target.onnx"), load_external_data=False)
    where = {t.name: {e.key: e.value for e in t.external_data} for t in graph.graph.initializer}
    assert spec == {"file": "target.onnx.data", "values_offset": int(where["embed.q"]["offset"]),
                    "scales_offset": int(where["embed.scales"]["offset"])}
    assert HOST_LOOKUP_INPUT in manifest["io"]["target"]["inputs"]
    assert not any(n.op_type == "GatherBlockQuantized" for n in graph.graph.node)
    assert "embedding_lookup" not in packages["no"][1]["quantization"]
    cases = case_inputs(hf.config.vocab_size, seed=5)
    logits = {}
    for external, (folder, m) in packages.items():
        session = ort.InferenceSession(str(folder / "target.onnx"), providers=["CPUExecutionProvider"])
        logits[external] = [run_ort(session, m, c, folder) for c in cases]
    for a, b in zip(logits["yes"], logits["no"]):
        for (la, ha), (lb, hb) in zip(a, b):
            np.testing.assert_array_equal(la, lb)
            np.testing.assert_array_equal(ha, hb)
    # The engine reads the rows itself: its report matches the in-graph lookup's exactly. (int4 on this
    # random model agrees with fp32 too rarely to pass; int8 passes.)
    reports = [run_verify(folder) for folder, _ in packages.values()]
    assert reports[0]["cases"] == reports[1]["cases"] and reports[0]["pass"] == (quant == "int8")


def test_an_aliased_lookup_table_shares_the_heads_bytes_on_disk(tmp_path):
    """Graphs that keep the lookup (the standard exports) read the tied table through an alias: a second
    initializer over the same bytes of the data file, so onnxruntime can free the original once the LM
    head has prepacked it. Inline graphs fold the alias back into one shared initializer."""
    from chimera_train.checkpoint import load_target
    from chimera_train.graph_target import build_target_graph, describe
    from chimera_train.onnx_build import Quant

    build_checkpoint("qwen2", tmp_path / "checkpoint")
    desc = describe(load_target(tmp_path / "checkpoint"))
    for external in (True, False):
        build_target_graph(desc, Quant(8, 32)).save(tmp_path / f"g{external}" / "target.onnx", external)
    graph = onnx.load(str(tmp_path / "gTrue" / "target.onnx"), load_external_data=False)
    where = {t.name: {e.key: e.value for e in t.external_data} for t in graph.graph.initializer}
    assert where["embed.q.lookup"] == where["embed.q"] and where["embed.scales.lookup"] == where["embed.scales"]
    lookup = next(n for n in graph.graph.node if n.op_type == "GatherBlockQuantized")
    assert lookup.input[0] == "embed.q.lookup"
    inline = onnx.load(str(tmp_path / "gFalse" / "target.onnx"))
    assert not any(t.name.endswith(".lookup") for t in inline.graph.initializer)
    feeds = {"input_ids": np.array([[1, 5, 9]], np.int64), "position_ids": np.array([[0, 1, 2]], np.int64),
             "attention_bias": np.triu(np.full((3, 3), -np.inf, np.float32), 1)[None, None],
             "logits_to_keep": np.array([3], np.int64)}
    runs = []
    for name in ("gTrue", "gFalse"):
        session = ort.InferenceSession(str(tmp_path / name / "target.onnx"), providers=["CPUExecutionProvider"])
        past = {i.name: np.zeros([1, 0, *i.shape[2:]], np.float32) for i in session.get_inputs() if i.name.startswith("past")}
        runs.append(session.run(["logits"], {**feeds, **past})[0])
    np.testing.assert_array_equal(runs[0], runs[1])


@pytest.mark.parametrize("family,bits", [("qwen2", 8), ("llama", 8), ("qwen2", 4)])  # tied and untied heads
def test_a_head_read_in_row_parts_gives_the_same_logits(tmp_path, family, bits):
    """The LM head in row parts (Graph.matmul_nbits) reads consecutive rows of the same bytes, and its logits
    equal the whole head's exactly: each output column is the same dot product either way."""
    from chimera_train.checkpoint import load_target
    from chimera_train.graph_target import build_target_graph, describe
    from chimera_train.onnx_build import Quant

    build_checkpoint(family, tmp_path / "checkpoint")
    desc = describe(load_target(tmp_path / "checkpoint"))
    for name, part_bytes in (("whole", None), ("parts", 3000)):
        build_target_graph(desc, Quant(bits, 32), head_part_bytes=part_bytes).save(tmp_path / name / "target.onnx", True)
    graph = onnx.load(str(tmp_path / "parts" / "target.onnx"), load_external_data=False)
    where = {t.name: {e.key: int(e.value) for e in t.external_data if e.key != "location"} for t in graph.graph.initializer}
    source = "embed.q" if family == "qwen2" else "lm_head.q"
    parts = sorted((w["offset"], w["length"]) for n, w in where.items() if n.startswith(f"{source}.rows"))
    assert len(parts) > 2
    assert parts[0][0] == where[source]["offset"] and sum(length for _, length in parts) == where[source]["length"]
    assert all(a + la == b for (a, la), (b, _) in zip(parts, parts[1:]))  # consecutive rows, no gaps
    sessions = [ort.InferenceSession(str(tmp_path / name / "target.onnx"), providers=["CPUExecutionProvider"])
                for name in ("whole", "parts")]
    for ids in ([1, 5, 9, 2], [7]):  # a verified block and a single step take different kernel paths
        t = len(ids)
        feeds = {"input_ids": np.array([ids], np.int64), "position_ids": np.arange(t, dtype=np.int64)[None],
                 "attention_bias": np.triu(np.full((t, t), -np.inf, np.float32), 1)[None, None],
                 "logits_to_keep": np.array([t], np.int64)}
        runs = []
        for session in sessions:
            past = {i.name: np.zeros([1, 0, *i.shape[2:]], np.float32) for i in session.get_inputs() if i.name.startswith("past")}
            runs.append(session.run(["logits"], {**feeds, **past})[0])
        assert runs[0].shape == (1, t, desc.vocab)
        np.testing.assert_array_equal(runs[0], runs[1])


# ---- bad input ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("bad") / "checkpoint"
    build_checkpoint("qwen2", path)
    return path


@pytest.fixture
def broken(checkpoint, tmp_path):
    copy = tmp_path / "checkpoint"
    shutil.copytree(checkpoint, copy)
    return copy


def edit_config(folder, change):
    cfg = json.loads((folder / "config.json").read_text())
    change(cfg)
    (folder / "config.json").write_text(json.dumps(cfg))


def convert_fails(folder, tmp_path, pattern):
    from chimera_train.hf_model import ConversionError

    with pytest.raises(ConversionError, match=pattern):
        convert(folder, tmp_path / "out", log=lambda _: None)
    assert not (tmp_path / "out" / "target.onnx").exists()


def test_unsupported_architecture_is_named(broken, tmp_path):
    edit_config(broken, lambda c: c.update(architectures=["GPT2LMHeadModel"]))
    convert_fails(broken, tmp_path, r"config\.json: architecture 'GPT2LMHeadModel' is not supported; the converter "
                                    r"reads LlamaForCausalLM, Qwen2ForCausalLM, MistralForCausalLM")


def test_unknown_rope_scaling_is_named(broken, tmp_path):
    edit_config(broken, lambda c: c.update(rope_parameters={"rope_type": "yarn", "factor": 4.0, "rope_theta": 1e6}))
    convert_fails(broken, tmp_path, r"RoPE scaling type 'yarn' is not supported \(supported: default, linear, llama3\)")


def test_missing_shard_is_named(broken, tmp_path):
    shard = sorted(broken.glob("model-*.safetensors"))[1]
    shard.unlink()
    convert_fails(broken, tmp_path, rf"{shard.name}: missing shard \(\d+ tensors listed in model\.safetensors\.index\.json\)")


def test_mismatched_tensor_shape_is_named(broken, tmp_path):
    edit_config(broken, lambda c: c.update(intermediate_size=96))
    convert_fails(broken, tmp_path, r"model-\d+-of-\d+\.safetensors: tensor model\.layers\.0\.mlp\.(gate|up|down)_proj\."
                                    r"weight has shape \[(128, 64|64, 128)\], but config\.json implies \[(96, 64|64, 96)\]")


def test_cli_reports_bad_input_without_a_traceback(broken, tmp_path, capsys):
    from chimera_train.cli import main

    (broken / "tokenizer.json").unlink()
    assert main(["convert", str(broken), "--out", str(tmp_path / "out")]) == 2
    assert "tokenizer.json: missing" in capsys.readouterr().err


def test_older_config_format_is_read():
    from chimera_train.hf_model import parse_config

    cfg = parse_config({"architectures": ["MistralForCausalLM"], "vocab_size": 8, "hidden_size": 8, "num_hidden_layers": 1,
                        "num_attention_heads": 2, "intermediate_size": 16, "rope_theta": 1e6, "sliding_window": 4096,
                        "max_position_embeddings": 32768, "rope_scaling": {"type": "linear", "factor": 2.0}}, "config.json")
    assert cfg.rope == {"rope_type": "linear", "factor": 2.0} and cfg.rope_theta == 1e6
    assert cfg.max_seq_len == 4096  # the engine attends fully: exact only within the sliding window


def test_committed_converted_fixture_is_valid_and_small():
    from pathlib import Path

    fixture = Path(__file__).resolve().parents[2] / "test" / "fixtures" / "converted-qwen2"
    manifest = validate_package(fixture)
    assert manifest["family"] == "qwen2" and manifest["draft"] is not None
    assert sum(p.stat().st_size for p in fixture.iterdir()) < 2_000_000


def test_validator_reads_graph_io_without_the_weights(converted, tmp_path):
    """Weights are appended in chunks (one graph message per tensor); the validator's streaming reader must
    see the same inputs and outputs as onnx.load, and name a damaged file."""
    import onnx

    from chimera_train.package import PackageError, graph_io

    path = converted[3] / "target.onnx"
    model = onnx.load(str(path))
    assert len(model.graph.initializer) > 10
    inputs, outputs = graph_io(path)
    assert list(inputs) == [i.name for i in model.graph.input] and list(outputs) == [o.name for o in model.graph.output]
    damaged = tmp_path / "target.onnx"
    damaged.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(PackageError, match=r"target\.onnx: not a readable ONNX model"):
        graph_io(damaged)
