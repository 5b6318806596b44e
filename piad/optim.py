"""Adam for the trainer: ``torch.optim.Adam``'s update, bit for bit, without ``torch.optim``.

Why not ``torch.optim.Adam`` itself: every ``torch.optim.Optimizer`` imports ``torch._dynamo``
when it is built and at each step (with sympy, inductor and triton), which adds about 150 MB
of resident memory to a training process that never compiles anything (measured 0.96 -> 0.81
GiB peak on the MNIST preset, ``python -m benchmarks.speed``). This class performs the same
arithmetic in the same order (L2 weight decay added to the gradient, ``lerp`` of the first
moment, bias corrections from a float32 step count) with ``torch._foreach_*`` operations, and
reads and writes ``torch.optim.Adam``'s ``state_dict`` layout, so checkpoints move both ways.
``tests/unit/piad/test_optim.py`` checks bit-equality with ``torch.optim.Adam`` on CPU.

>>> opt = Adam(model.parameters(), lr=1e-4, betas=(0.5, 0.99))   # doctest: +SKIP
>>> loss.backward(); opt.step(); opt.zero_grad()                # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

from piad.errors import PIADError


class Adam:
    """Adam (Kingma & Ba) with L2 weight decay, one parameter group, no amsgrad.

    >>> opt = Adam([torch.zeros(2, requires_grad=True)], lr=0.1)
    >>> opt.param_groups[0]["betas"]
    (0.9, 0.999)
    """

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        params = list(params)
        if not params:
            raise PIADError("Adam got no parameters to optimise")
        if lr < 0 or eps < 0 or weight_decay < 0 or not all(0 <= b < 1 for b in betas):
            raise PIADError(
                f"invalid Adam settings lr={lr}, betas={betas}, eps={eps}, "
                f"weight_decay={weight_decay}: need lr, eps, weight_decay >= 0 and 0 <= beta < 1"
            )
        self.params = params
        self.param_groups = [
            {
                "lr": lr,
                "betas": (float(betas[0]), float(betas[1])),
                "eps": eps,
                "weight_decay": weight_decay,
            }
        ]
        self.state: dict[int, dict[str, Tensor]] = {}  # parameter index -> moments and step

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.detach_().zero_()

    def _state(self, i: int, p: Tensor) -> dict[str, Tensor]:
        if i not in self.state:
            self.state[i] = {
                "step": torch.zeros((), dtype=torch.float32),  # on the host, as torch keeps it
                "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
            }
        return self.state[i]

    @torch.no_grad()
    def step(self) -> None:
        """One Adam update of every parameter that has a gradient."""
        group: dict[str, Any] = self.param_groups[0]
        lr: float = group["lr"]
        beta1, beta2 = (float(b) for b in group["betas"])
        eps: float = group["eps"]
        weight_decay: float = group["weight_decay"]
        live = [(i, p) for i, p in enumerate(self.params) if p.grad is not None]
        if not live:
            return
        params = [p for _, p in live]
        states = [self._state(i, p) for i, p in live]
        grads: list[Tensor] = [p.grad for p in params if p.grad is not None]
        exp_avgs = [s["exp_avg"] for s in states]
        exp_avg_sqs = [s["exp_avg_sq"] for s in states]
        steps = [s["step"] for s in states]
        torch._foreach_add_(steps, 1)
        if weight_decay != 0:
            grads = list(torch._foreach_add(grads, params, alpha=weight_decay))  # L2: g + wd * p
        torch._foreach_lerp_(exp_avgs, grads, 1 - beta1)  # m = b1 m + (1 - b1) g
        torch._foreach_mul_(exp_avg_sqs, beta2)
        torch._foreach_addcmul_(exp_avg_sqs, grads, grads, 1 - beta2)  # v = b2 v + (1 - b2) g^2
        counts = [s.item() for s in steps]
        step_sizes = [-(lr / (1 - beta1**t)) for t in counts]
        bias2_sqrt = [(1 - beta2**t) ** 0.5 for t in counts]
        denom = torch._foreach_sqrt(exp_avg_sqs)
        torch._foreach_div_(denom, bias2_sqrt)
        torch._foreach_add_(denom, eps)
        torch._foreach_addcdiv_(params, exp_avgs, denom, step_sizes)

    # ------------------------------------------------------------------ torch.optim layout
    def state_dict(self) -> dict[str, Any]:
        """``torch.optim.Adam.state_dict()``'s layout (loads into either class)."""
        group = self.param_groups[0]
        saved_group = {
            **group,
            "amsgrad": False,
            "maximize": False,
            "foreach": None,
            "capturable": False,
            "differentiable": False,
            "fused": None,
            "decoupled_weight_decay": False,
            "params": list(range(len(self.params))),
        }
        state = {i: {k: v.clone() for k, v in s.items()} for i, s in self.state.items()}
        return {"state": state, "param_groups": [saved_group]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict` or from ``torch.optim.Adam.state_dict()``."""
        groups = state_dict.get("param_groups", [])
        if len(groups) != 1 or len(groups[0].get("params", [])) != len(self.params):
            raise PIADError(
                "optimizer state does not match this model (other parameter count or groups); "
                "use a checkpoint of the same configuration"
            )
        saved = groups[0]
        if saved.get("amsgrad") or saved.get("maximize") or saved.get("decoupled_weight_decay"):
            raise PIADError("optimizer state uses an Adam variant this trainer does not run")
        self.param_groups[0].update(
            {k: saved[k] for k in ("lr", "eps", "weight_decay") if k in saved}
        )
        if "betas" in saved:
            self.param_groups[0]["betas"] = (float(saved["betas"][0]), float(saved["betas"][1]))
        self.state = {}
        for key, s in state_dict.get("state", {}).items():
            i = saved["params"].index(key) if key in saved["params"] else int(key)
            p = self.params[i]
            self.state[i] = {
                "step": torch.as_tensor(s["step"], dtype=torch.float32).cpu().clone(),
                "exp_avg": s["exp_avg"].to(device=p.device, dtype=p.dtype).clone(),
                "exp_avg_sq": s["exp_avg_sq"].to(device=p.device, dtype=p.dtype).clone(),
            }


__all__ = ["Adam"]
