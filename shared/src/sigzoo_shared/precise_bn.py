"""BatchNorm population statistics recomputed with the current weights ("precise BN").

During training, BatchNorm keeps an exponential moving average (momentum 0.1) of the batch
statistics, i.e. a mix of the last ~10 batches' statistics taken while the weights were still moving.
Evaluation uses that average. When the features drift quickly (a latent space reorganising, an
encoder with units that switch on rarely) the average can be far from the statistics of the final
weights, and eval-mode outputs jump from one epoch to the next although the model barely changed.
Recomputing the statistics over a fixed number of batches with the final weights and an equal-weight
average removes that (Wu & Johnson 2021, "Rethinking 'Batch' in BatchNorm", section 3; the same
procedure as `torch.optim.swa_utils.update_bn`, which only accepts `model(input)` calls, whereas the
Trainer's models are driven by a package's step function).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


@torch.no_grad()
def recompute_batchnorm(
    model: nn.Module, forward: Callable[[Any], Any], batches: Iterable[Any], n_batches: int
) -> int:
    """Reset every BatchNorm's running statistics and re-estimate them as the equal-weight average
    over the first `n_batches` of `batches`, each passed to `forward` in train mode.

    The random number generators are left as they were (the forward passes may draw dropout or
    reparameterisation noise), so a run with the recomputation trains exactly as one without, and a
    resumed run equals an uninterrupted one. Returns the number of batches used (0: no BatchNorm).
    """
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm) and m.track_running_stats]
    if not bns or n_batches < 1:
        return 0
    was_training = model.training
    momenta = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative moving average: every batch weighs the same
    model.train()
    used = 0
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        for batch in batches:
            if used >= n_batches:
                break
            forward(batch)
            used += 1
    for bn, momentum in zip(bns, momenta):
        bn.momentum = momentum
    model.train(was_training)
    return used
