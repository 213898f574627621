import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chimera_train.model import TargetConfig, TargetLM  # noqa: E402

TINY = TargetConfig(vocab_size=64, d_model=32, n_layers=2, n_heads=2, d_ff=48, max_seq_len=64)


@pytest.fixture
def tiny_target() -> TargetLM:
    torch.manual_seed(0)
    model = TargetLM(TINY)
    # random init logits are nearly flat; sharpen them so argmax comparisons are meaningful
    with torch.no_grad():
        model.embed.weight.mul_(25)
    return model.eval()
