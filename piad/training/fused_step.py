"""One fused iteration of Algorithm 1 over K PIAD members at the same iteration.

:class:`FusedGroup` holds the members' stacked parameters (:mod:`piad.training.fused_nets`), one
:class:`~piad.optim.Adam` per optimiser over the stacks (elementwise, so row k gets exactly
member k's update), the members' log sums and NaN guards as rows, and runs the critic and
encoder-generator steps of :class:`~piad.training.trainer.Trainer` for all members at once. The
members' own networks, optimiser states, log sums and NaN guards are views of these rows, so
every member's :class:`Trainer` methods (log rows, checks, checkpoints, sample grids) work on
the fused state as they stand. :mod:`piad.training.fused` drives the loop.
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from piad.errors import PIADError, TrainingDivergedError
from piad.losses import bind_distance
from piad.optim import Adam
from piad.training.fused_nets import FusedNetworks, stack_parameters, to_fused, to_members
from piad.training.runtime import autocast_context, network_layout
from piad.training.trainer import Trainer
from piad.weighting import GradientNormalizingWeights, gradient_statistic

# layout of the stacked conv weights per device type (see fused_nets.stack_parameters)
STACK_LAYOUT = {"cpu": torch.contiguous_format, "cuda": torch.contiguous_format}


class _ScaleGrad(torch.autograd.Function):
    """Identity forward; multiplies the incoming gradient by a (broadcast) tensor backwards."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, factor: Tensor) -> Tensor:
        ctx.save_for_backward(factor)
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        (factor,) = ctx.saved_tensors
        return grad * factor, None


class FusedGroup:
    """One fused computation over members at the same iteration: stacks, optimisers, steps."""

    def __init__(self, members: Sequence[Trainer], features: torch.nn.Module | None) -> None:
        self.members = list(members)
        first = members[0]
        self.config = c = first.config
        self.device = first.device
        self.k = len(members)
        self.layout = network_layout(self.device)
        self.features = features
        self.distance = bind_distance(c.reconstruction, features)
        iterations = {m.iteration for m in members}
        if len(iterations) != 1:
            raise PIADError(f"a fused group needs members at one iteration, got {iterations}")
        self.iteration = iterations.pop()
        self.params = stack_parameters(
            [m.networks for m in members], STACK_LAYOUT[self.device.type]
        )
        for k, m in enumerate(members):  # the members' networks now read the stacked rows
            for name, p in m.networks.named_parameters():
                p.data = self.params[name].detach()[k]
        self.nets = FusedNetworks(c, self.params)
        names = list(self.params)
        self.d_names = [n for n in names if n.split(".", 1)[0] in ("DX", "DZ")]
        self.eg_names = [n for n in names if n.split(".", 1)[0] in ("E", "G")]
        self.d_params = [self.params[n] for n in self.d_names]
        self.eg_params = [self.params[n] for n in self.eg_names]
        betas = (float(c.betas[0]), float(c.betas[1]))
        self.opt_d = Adam(self.d_params, lr=c.lr_d, betas=betas, weight_decay=c.weight_decay)
        self.opt_eg = Adam(self.eg_params, lr=c.lr_ge, betas=betas, weight_decay=c.weight_decay)
        self.opt_d.state = _stack_adam_state([m.opt_d for m in members], self.d_params)
        self.opt_eg.state = _stack_adam_state([m.opt_eg for m in members], self.eg_params)
        self.sums = torch.stack([m._sums.to(self.device) for m in members])
        self.first_bad = torch.stack([m._first_bad for m in members])
        for k, m in enumerate(members):  # the members' log sums and NaN guard are rows too
            m._sums, m._first_bad = self.sums[k], self.first_bad[k]
        self.failures: dict[int, TrainingDivergedError] = {}
        self._vectors: dict[tuple[str, tuple[float, ...]], Tensor] = {}
        self.export()  # the members' own optimiser tensors are freed: one copy of the state

    # ------------------------------------------------------------------ member views
    def export(self) -> None:
        """Point every member's optimiser state at its rows of the stacked state."""
        for k, m in enumerate(self.members):
            for fused, solo in ((self.opt_d, m.opt_d), (self.opt_eg, m.opt_eg)):
                solo.state = {
                    i: {"step": s["step"], "exp_avg": s["exp_avg"][k],
                        "exp_avg_sq": s["exp_avg_sq"][k]}
                    for i, s in fused.state.items()
                }  # fmt: skip

    def _vector(self, kind: str, values: list[float], repeat: int, dtype: torch.dtype) -> Tensor:
        """(K,) per-member numbers as a tensor (cached: no host-to-device copy per step)."""
        key = (f"{kind}/{repeat}/{dtype}", tuple(values))
        if key not in self._vectors:
            if len(self._vectors) > 16:
                self._vectors.clear()
            v = torch.tensor(values, dtype=dtype, device=self.device)
            self._vectors[key] = v.repeat_interleave(repeat) if repeat > 1 else v
        return self._vectors[key]

    # ------------------------------------------------------------------ Algorithm 1
    def _critic_loss(self, critic: Any, real: Tensor, fake: Tensor, alpha: Tensor) -> Tensor:
        """:func:`piad.losses.critic_loss` for every member: (K,) losses."""
        c = self.config
        d_real = critic(real)  # (K, B)
        d_fake = critic(fake.detach())
        loss = d_fake.mean(dim=1) - d_real.mean(dim=1)
        if c.gp_weight:
            loss = loss + c.gp_weight * self._gradient_penalty(critic, real, fake, alpha)
        if c.drift:
            loss = loss + c.drift * (d_real.pow(2).mean(dim=1) + d_fake.pow(2).mean(dim=1))
        return loss

    def _gradient_penalty(self, critic: Any, real: Tensor, fake: Tensor, alpha: Tensor) -> Tensor:
        """:func:`piad.losses.gradient_penalty` per member (its own mixing numbers ``alpha``)."""
        b, kc = real.shape[:2]
        a = alpha.t().repeat_interleave(kc // self.k, dim=1).view(b, kc, *([1] * (real.dim() - 2)))
        mixed = (a * real.detach() + (1 - a) * fake.detach()).requires_grad_(True)
        out = critic(mixed)
        (grad,) = torch.autograd.grad(out.sum(), mixed, create_graph=True)
        norms = grad.reshape(b, self.k, -1).norm(2, dim=2)  # (B, K): each member's own gradient
        return ((norms - 1) ** 2).mean(dim=0)

    def _alphas(self, real: Tensor) -> Tensor:
        shape = (real.shape[0],) + (1,) * (real.dim() - 1)
        draws = [
            torch.rand(shape, generator=m.noise, device=real.device, dtype=real.dtype)
            for m in self.members
        ]
        return torch.stack(draws).reshape(self.k, real.shape[0])

    def critic_step(self) -> Tensor:
        """Alg. 1 lines 2-5 for every member; returns (K, 2) losses (D_X, D_Z)."""
        c, n = self.config, self.nets
        xs = [m.data.next() for m in self.members]
        zs = [m._prior(c.batch_size) for m in self.members]
        alpha_x = self._alphas(xs[0])  # each generator draws z, a_X, a_Z: the solo order
        alpha_z = self._alphas(zs[0])
        x, z = to_fused(xs, self.layout), to_fused(zs, torch.contiguous_format)
        with torch.no_grad():
            fake_x, fake_z = n.G(z), n.E(x)
        loss_dx = self._critic_loss(n.DX, x, fake_x, alpha_x)
        loss_dz = self._critic_loss(n.DZ, z, fake_z, alpha_z)
        self.opt_d.zero_grad(set_to_none=True)
        (loss_dx + loss_dz).sum().backward()
        self.opt_d.step()
        return torch.stack([loss_dx.detach(), loss_dz.detach()], dim=1)

    def _real_features(self, xs: list[Tensor]) -> Tensor | None:
        """f(x) of every member's batch, (K*B, ...): from its cache, else one VGG pass for all."""
        if self.features is None:
            return None
        parts: list[Tensor | None] = [None] * self.k
        todo = []
        for k, m in enumerate(self.members):
            if m._fx_cache is not None and m.data.last_index is not None:
                parts[k] = m._fx_cache[m.data.last_index]
            else:
                todo.append(k)
        if todo:
            with torch.no_grad():
                f = self.features(torch.cat([xs[k] for k in todo]))
            for j, k in enumerate(f.split(xs[0].shape[0])):
                parts[todo[j]] = k
        return torch.cat(parts)  # type: ignore[arg-type]

    def encoder_generator_step(self, t: int) -> Tensor:
        """Alg. 1 lines 6-17 for every member; returns (K, 3): L_adv(G), L_adv(E), L_rec."""
        c, n, k = self.config, self.nets, self.k
        b = c.batch_size
        pols_g = [m.policies["G"] for m in self.members]
        pols_e = [m.policies["E"] for m in self.members]
        due = pols_g[0].due(t) or pols_e[0].due(t)  # same schedule for every member
        gam_g, gam_e = [p.gamma for p in pols_g], [p.gamma for p in pols_e]
        one_pass = not due and all(g > 0 for g in gam_g)
        xs = [m.data.next() for m in self.members]
        zs = [m._prior(b) for m in self.members]
        fx = self._real_features(xs)
        for p in self.d_params:
            p.requires_grad_(False)
        try:
            x, z = to_fused(xs, self.layout), to_fused(zs, torch.contiguous_format)
            ez = n.E(x)
            if due:
                fake_x, rec_x = n.G(z), n.G(ez)
            else:
                ez_rec = ez
                if one_pass:  # rec path into E rescaled to gamma_E / gamma_G (Trainer's trick)
                    ratio = [e / g for e, g in zip(gam_e, gam_g)]
                    d = ez.shape[1] // k
                    factor = self._vector("ratio", ratio, d, ez.dtype).view(1, -1, 1, 1)
                    ez_rec = _ScaleGrad.apply(ez, factor)
                fake_x, rec_x = n.G(torch.cat([z, ez_rec])).split(b)
            adv_g = -n.DX(fake_x).mean(dim=1)  # eq. 6, (K,)
            adv_e = -n.DZ(ez).mean(dim=1)
            real = torch.cat(xs)
            rec = self.distance(real, to_members(rec_x, k), fx=fx).view(k, b).mean(dim=1)
            adv = adv_g + adv_e
            self.opt_eg.zero_grad(set_to_none=True)
            if one_pass:
                gamma_g = self._vector("gamma_g", gam_g, 1, rec.dtype)
                (gamma_g * rec + adv).sum().backward()
            elif due:
                self._policy_backward(t, adv, rec)
            else:  # some gamma_G <= 0: Alg. 1 lines 15-16 literally, for every member
                rec.sum().backward(retain_graph=True)
                self._scale_rec_grads()
                adv.sum().backward()
            self.opt_eg.step()
        finally:
            for p in self.d_params:
                p.requires_grad_(True)
        return torch.stack([adv_g.detach(), adv_e.detach(), rec.detach()], dim=1)

    def _scale_rec_grads(self) -> None:
        """Alg. 1 line 15 per member: G's gradient rows times its gamma_G, E's times gamma_E."""
        for net in ("G", "E"):
            gammas = [m.policies[net].gamma for m in self.members]
            for name in self.eg_names:
                p = self.params[name]
                if name.startswith(net + ".") and p.grad is not None:
                    g = self._vector(f"gamma_{net}", gammas, 1, p.grad.dtype)
                    p.grad.mul_(g.view(-1, *([1] * (p.dim() - 1))))

    def _record(self, loss: str) -> None:
        """Alg. 2 per member, on its own gradient rows (the statistic of Policy.record)."""
        for net in ("G", "E"):
            policies = [m.policies[net] for m in self.members]
            if not all(isinstance(p, GradientNormalizingWeights) for p in policies):
                continue  # fixed weights record nothing
            stat = policies[0].statistic  # type: ignore[attr-defined]
            names = [n for n in self.eg_names if n.startswith(net + ".") and n.endswith("weight")]
            names = [n for n in names if self.params[n].grad is not None]
            layers = [n.split(".", 1)[1] for n in names]
            grads = [self.params[n].grad.detach() for n in names]  # type: ignore[union-attr]
            # row k alone: the same reduction as on a solo gradient
            per = [[gradient_statistic(g[k], stat) for g in grads] for k in range(self.k)]
            table = torch.stack([torch.stack(row) for row in per]).cpu().double().numpy()  # 1 sync
            for policy, values in zip(policies, table):
                policy.record_values(loss, values, layers)  # type: ignore[attr-defined]

    def _policy_backward(self, t: int, adv: Tensor, rec: Tensor) -> None:
        """Trainer._policy_backward for every member: record, select gammas, combine."""
        adv.sum().backward(retain_graph=True)
        self._record("adv")
        adv_grads = [p.grad for p in self.eg_params]
        for p in self.eg_params:
            p.grad = None
        rec.sum().backward()
        self._record("rec")
        for k, m in enumerate(self.members):  # Alg. 3
            for name, policy in m.policies.items():
                gamma = policy.update()
                if not math.isfinite(gamma) and k not in self.failures:
                    self.failures[k] = _gamma_error(m, name, gamma, t)
        self._scale_rec_grads()
        for p, g in zip(self.eg_params, adv_grads):
            if g is not None:
                p.grad = g if p.grad is None else p.grad.add_(g)

    def step(self) -> int:
        """One iteration of Algorithm 1 for every member; returns the new iteration."""
        t = self.iteration + 1
        c = self.config
        with autocast_context(self.device, self.members[0].autocast):
            losses = [self.critic_step() for _ in range(c.n_dis)]
            critic = functools.reduce(operator.add, losses) / c.n_dis  # as sum() in Trainer.step
            values = torch.cat([critic, self.encoder_generator_step(t)], dim=1).float()
        bad = ~torch.isfinite(values)  # the NaN guard without a host sync, per member
        self.first_bad.copy_(torch.where(bad & (self.first_bad < 0), t, self.first_bad))
        self.sums += values
        for m in self.members:
            m._count += 1
            m.iteration = t
        self.iteration = t
        return t


def _stack_adam_state(opts: list[Adam], params: list[Tensor]) -> dict[int, dict[str, Tensor]]:
    """The members' Adam states stacked row-wise like ``params`` (empty before any step)."""
    keys = [set(o.state) for o in opts]
    if any(ks != keys[0] for ks in keys):
        raise PIADError("fused members have optimiser states of different sizes; resume them solo")
    out: dict[int, dict[str, Tensor]] = {}
    for i in sorted(keys[0]):
        states = [o.state[i] for o in opts]
        steps = {float(s["step"]) for s in states}
        if len(steps) != 1:
            raise PIADError(f"fused members' optimisers are at different steps {sorted(steps)}")
        out[i] = {"step": states[0]["step"].clone()}
        for key in ("exp_avg", "exp_avg_sq"):
            rows = torch.stack([s[key].to(params[i].device) for s in states])
            out[i][key] = torch.empty_like(params[i]).copy_(rows)  # the parameter's layout
    return out


def _gamma_error(m: Trainer, name: str, gamma: float, t: int) -> TrainingDivergedError:
    """The error a solo Trainer raises for a non-finite gamma (a NaN loss named first)."""
    try:
        m.check_finite()
    except TrainingDivergedError as e:
        return e
    return TrainingDivergedError(
        f"gamma_{name} became {gamma} at iteration {t}: the gradients are not finite; "
        f"{m._kept_checkpoint_hint()}"
    )


__all__ = ["STACK_LAYOUT", "FusedGroup"]
