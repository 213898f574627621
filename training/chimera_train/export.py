"""ONNX export of the target and draft models, following the engine's I/O contract.

Target (`target.onnx`), all float32 unless noted:
  inputs   input_ids int64 [1,T], position_ids int64 [1,T], attention_bias [1,1,T,P+T] (additive 0/-inf),
           logits_to_keep int64 [1] (K: logits only for the last K tokens; a prefill needs 1),
           past_key_values.{i}.key / .value [1,P,H,Dh] (sequence-major, P may be 0)
  outputs  logits [1,K,V], last_hidden_state [1,T,D], present.{i}.key / .value [1,T,H,Dh] (new entries only)
"""
from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

from .model import TargetLM, static_batch
from .onnx_weights import attach_weights

OPSET = 17


def target_input_names(n_layers: int) -> list[str]:
    names = ["input_ids", "position_ids", "attention_bias", "logits_to_keep"]
    for i in range(n_layers):
        names += [f"past_key_values.{i}.key", f"past_key_values.{i}.value"]
    return names


def target_output_names(n_layers: int) -> list[str]:
    names = ["logits", "last_hidden_state"]
    for i in range(n_layers):
        names += [f"present.{i}.key", f"present.{i}.value"]
    return names


class _TargetExport(nn.Module):
    def __init__(self, model: TargetLM):
        super().__init__()
        self.model = model

    def forward(self, input_ids, position_ids, attention_bias, logits_to_keep, *past_flat):
        past = [(past_flat[2 * i], past_flat[2 * i + 1]) for i in range(len(past_flat) // 2)]
        hidden, new_kv = self.model.hidden_cached(input_ids, position_ids, attention_bias, past)
        # A prefill needs the next-token logits of its last position only; skipping the LM head for the
        # rest saves a large share of its time and a [T, V] output copy.
        kept = hidden[:, -logits_to_keep[0]:]
        flat = [t for kv in new_kv for t in kv]
        return (self.model.lm_head(kept), hidden, *flat)


def causal_bias(t: int, p: int) -> torch.Tensor:
    """[1,1,T,P+T]: every new token sees the whole past and the new tokens up to itself."""
    bias = torch.zeros(1, 1, t, p + t)
    bias[0, 0, :, p:] = torch.triu(torch.full((t, t), float("-inf")), diagonal=1)
    return bias


def example_target_inputs(model: TargetLM, t: int = 3, p: int = 2) -> tuple:
    cfg = model.cfg
    ids = torch.randint(0, cfg.vocab_size, (1, t))
    pos = torch.arange(p, p + t)[None]
    heads = getattr(cfg, "n_kv_heads", cfg.n_heads)  # grouped-query attention caches fewer heads
    past = []
    for _ in range(cfg.n_layers):
        past += [torch.randn(1, p, heads, cfg.head_dim), torch.randn(1, p, heads, cfg.head_dim)]
    return (ids, pos, causal_bias(t, p), torch.tensor([t]), *past)


def export_target(model: TargetLM, path: Path, external_data: bool = False, quant=None,
                  head_part_bytes: int | None = None) -> list[Path]:
    """Writes target.onnx (and target.onnx.data with `external_data`); returns the files written.

    fp32 and quantized (`quant`, onnx_build.Quant) targets are written by hand (graph_target.py: fused
    operators, weights in MatMul layout, MatMulNBits blocks); fp16 ones are traced here, for the casts
    their mixed precision needs."""
    model.eval()
    if quant is not None or next(model.parameters()).dtype == torch.float32:
        from .graph_target import export_target_graph

        return export_target_graph(model, path, external_data, quant=quant, head_part_bytes=head_part_bytes)
    n = model.cfg.n_layers
    inputs, outputs = target_input_names(n), target_output_names(n)
    dynamic = {"input_ids": {1: "T"}, "position_ids": {1: "T"}, "attention_bias": {2: "T", 3: "PT"},
               "logits": {1: "K"}, "last_hidden_state": {1: "T"}}
    for name in inputs[4:]:
        dynamic[name] = {1: "P"}
    for name in outputs[2:]:
        dynamic[name] = {1: "T"}
    return _export(_TargetExport(model), example_target_inputs(model), path, inputs, outputs, dynamic, external_data)


class _WeightsAsInputs(nn.Module):
    """Runs `inner` with its weights passed in as arguments, so the tracer sees them as graph inputs.

    Traced as module state, the exporter's shape inference treats weights as known constants and computes
    some derived ones (every Linear's transposed weight): 0.75x the model in extra memory, measured on a
    0.5B model. As plain inputs nothing is derived from them, and attach_weights turns them back into
    initializers afterwards."""

    def __init__(self, inner: nn.Module, names: list[str], n_io: int):
        super().__init__()
        self.__dict__["inner"] = inner  # not a submodule: the wrapper has no state of its own to trace
        self.names, self.n_io = names, n_io

    def forward(self, *flat):
        # torch.func.functional_call refuses to run under the tracer, so swap the tensors in by hand
        saved = []
        for name, tensor in zip(self.names, flat[self.n_io:]):
            owner, _, leaf = name.rpartition(".")
            module = self.inner.get_submodule(owner)
            store = module._parameters if leaf in module._parameters else module._buffers
            saved.append((store, leaf, store[leaf]))
            store[leaf] = tensor
        try:
            return self.inner(*flat[: self.n_io])
        finally:
            for store, leaf, original in saved:
                store[leaf] = original


def _export(module: nn.Module, args: tuple, path: Path, inputs: list[str], outputs: list[str], dynamic: dict,
            external_data: bool, pin: dict[str, list[int]] | None = None) -> list[Path]:
    """Traces the graph with the weights as extra inputs, then writes them tensor by tensor (onnx_weights)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    weights = {**dict(module.named_parameters()), **dict(module.named_buffers())}  # tied ones once
    wrapper = _WeightsAsInputs(module, list(weights), len(args))
    with warnings.catch_warnings(), torch.no_grad(), static_batch():
        warnings.simplefilter("ignore")
        torch.onnx.export(wrapper, (*args, *weights.values()), str(path), input_names=inputs + list(weights),
                          output_names=outputs, dynamic_axes=dynamic, opset_version=OPSET, dynamo=False,
                          do_constant_folding=False, export_params=False)
    if pin:
        _pin_output_dims(path, pin)
    return attach_weights(path, weights, inputs, external_data)


# ---- draft ---------------------------------------------------------------------------------------------
DRAFT_INPUTS = ["hidden_states", "past_context.key", "past_context.value", "tokens", "position_offset"]
DRAFT_OUTPUTS = ["present_context.key", "present_context.value", "draft_tokens", "draft_logprobs"]


def export_draft(draft, path: Path, external_data: bool = False, *, capacity: int, n_steps: int | None = None,
                 shortlist: torch.Tensor | None = None, quant=None) -> list[Path]:
    """Draft (`draft.onnx`), written by hand (graph_draft.py) rather than traced:
      inputs   hidden_states [1,N,D] (target last_hidden_state of newly verified positions P..P+N-1),
               past_context.key / .value [1,P,H,Dh] (a window of the context cache), position_offset int64 [1]
               (the window's first position), tokens int64 [1,3] (two last verified tokens, then the root)
      outputs  present_context.key / .value [1,N,H,Dh], draft_tokens int64 [1,K,top_k], draft_logprobs [1,K,top_k]
    `n_steps` and `shortlist` may cut the chain and the candidate vocabulary; `quant` (onnx_build.Quant)
    stores the weights as int8 or int4 blocks.
    """
    from .graph_draft import build_draft_graph

    draft.eval()
    with torch.no_grad():
        graph = build_draft_graph(draft, capacity=capacity, n_steps=n_steps, shortlist=shortlist, quant=quant)
        return graph.save(path, external_data)


def _pin_output_dims(path: Path, shapes: dict[str, list[int]]) -> None:
    """The tracer leaves some static output dims symbolic; write them in so validators can read them."""
    import onnx

    model = onnx.load(str(path))
    for out in model.graph.output:
        if out.name in shapes:
            for dim, value in zip(out.type.tensor_type.shape.dim, shapes[out.name]):
                dim.Clear()
                dim.dim_value = value
    onnx.save(model, str(path))
