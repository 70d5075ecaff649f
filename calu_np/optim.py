"""Adam on a flat dict of real parameters, with a learning rate that decays geometrically."""

import numpy as np

from . import engine


class Adam:
    """Adam (Kingma & Ba 2015) with bias correction. Parameters are updated in place."""

    def __init__(self, params, lr=0.02, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.step_count = 0
        self.m = {key: np.zeros_like(value) for key, value in params.items()}
        self.v = {key: np.zeros_like(value) for key, value in params.items()}

    def step(self, params, grads, lr=None):
        """Apply one update: params[key] −= lr · m̂ / (√v̂ + eps) for every key in grads."""
        lr = self.lr if lr is None else lr
        self.step_count += 1
        correction1 = 1.0 - self.beta1**self.step_count
        correction2 = 1.0 - self.beta2**self.step_count
        for key, grad in grads.items():
            engine.adam_update(params[key], grad, self.m[key], self.v[key], lr, self.beta1, self.beta2,
                               self.eps, correction1, correction2)


def decayed_lr(step, total_steps, lr_start, lr_end):
    """Return lr_start · (lr_end / lr_start)^(step / total_steps): geometric decay."""
    t = min(max(step / max(total_steps, 1), 0.0), 1.0)
    return lr_start * (lr_end / lr_start) ** t
