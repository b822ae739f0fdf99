"""CKD (Park et al. 2021, "Distilling Linguistic Context for Language Model Compression").

The student matches the *relations* between the teacher's token states rather than the states,
so no projection is needed and any widths work.

* Word relations (WR), inside each mapped layer: for each token ``i`` and each slot ``s`` of its
  window ``i-W..i+W`` (``2W+1`` slots, itself included), the cosine distance
  ``1 - cos(h_i, h_s)``, and for each pair of slots the angle at ``i``:
  ``<(h_s - h_i)/||h_s - h_i||, (h_t - h_i)/||h_t - h_i||>`` (differences of the unnormalised
  states).
* Layer-transforming relations (LTR): the same two functions along the layer axis: for each token,
  its states in the mapped layers form the "sequence" (same window ``W``).
* Loss: ``alpha*T^2*soft + (1-alpha)*CE + beta*(WR_dist + WR_angle + gamma*(LTR_dist + LTR_angle))``,
  each relation term the MSE between the teacher's and the student's relation tensors (one mean
  over every mapped layer's entries).

Window rules (both modes): when ``W >= n`` (``n`` tokens, or mapped layers for LTR) every token
relates to all ``n`` tokens (``n x n`` pairs, ``n^3`` angles); otherwise each token has ``2W+1``
slots, and slots that fall outside the sequence hold constants (distance 1, angle 0); the slot of
the token itself has distance 0 and angle 0.

Corrected default (``T=3, alpha=0.7, beta=gamma=1, W=10``): tokens are aligned across the two
tokenizers by character offsets (:mod:`codekd.methods.align`): the teacher's states are pooled
onto the student's tokens, so both relation tensors describe the same code spans; padding,
special tokens, unaligned tokens, out-of-sequence slots and the constant self entries are left out
of every mean (a masked mean). Soft term KL(batchmean)*T^2.

Paper-faithful (``T=3, alpha=1, beta=gamma=1`` as its README says; its code's defaults are
``beta=gamma=10``): position-wise comparison (student position ``n`` against teacher position
``n``, over the first ``min(T_s, T_t)`` positions), no padding mask, constant slots included in
the means, soft term as soft-target CE times ``T^2``.

Layer stacks: student layers ``1..L`` are mapped onto the teacher by ``layer_map`` (default
``uniform``). For transformer students the embedding output is part of the stack (``0 -> 0``) by
default (``include_embeddings: auto``); a BiGRU student's embedding output is ``H`` wide while its
layers are ``2H``, so LTR cannot include it and the GRU stack is its ``L`` layers.

Memory: relations are computed from a banded Gram matrix of each layer (``[B, n, 2W+1]`` dot
products gathered into ``[B, n, 2W+1, 2W+1]``), never from ``[B, n, 2W+1, D]`` difference
tensors, one layer at a time.
"""

from __future__ import annotations

from typing import Annotated, Any, Sequence, Union

import torch
import torch.nn.functional as F
from pydantic import Field, PlainValidator

from ..errors import ConfigError
from .base import Outputs, register_method
from .feature import FeatureMethod, MappedStates
from .golden import Golden
from .params import Alpha, AlignMode, LayerMapSpec, MethodParams, Temperature, Weight

EPS = 1e-8  # norms below this count as zero (as F.normalize's eps does)
COINCIDE = 1e-5  # |h_s - h_i|^2 below this fraction of |h_s|^2 + |h_i|^2 counts as a zero difference


# ------------------------------------------------------------------------------ relation tensors

def window_slots(n: int, window: int, device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The slots of each of ``n`` positions: ``(idx [n, S], in_seq [n, S], is_self [n, S])``.

    ``W >= n``: ``S = n`` and slot ``s`` is position ``s`` (all pairs). Otherwise ``S = 2W+1`` and
    slot ``s`` is position ``i + s - W`` (``idx`` clamped into range where ``in_seq`` is False).
    """
    if window >= n:
        idx = torch.arange(n, device=device).expand(n, n)
        return idx, torch.ones(n, n, dtype=torch.bool, device=device), torch.eye(n, dtype=torch.bool, device=device)
    offs = torch.arange(-window, window + 1, device=device)
    raw = torch.arange(n, device=device).unsqueeze(1) + offs.unsqueeze(0)
    in_seq = (raw >= 0) & (raw < n)
    is_self = (offs == 0).unsqueeze(0).expand(n, -1)
    return raw.clamp(0, n - 1), in_seq, is_self


def _slot_grams(x: torch.Tensor, window: int, pairs: bool = True
                ) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Dot products needed by the relations of ``x`` ``[B, n, D]``.

    Returns ``g_st [B, n|1, S, S]`` (slot x slot; None unless ``pairs``), ``g_cs [B, n, S]``
    (centre x slot), ``g_cc [B, n]`` (centre x centre) and ``g_ss [B, n|1, S]`` (slot x slot,
    diagonal). Out-of-sequence slots are zero vectors. Windowed, only the band of the Gram matrix
    within ``2W`` of the diagonal is computed (``[B, n + 2W, 2W + 1]``).
    """
    b, n, _ = x.shape
    if window >= n:
        g = torch.bmm(x, x.transpose(1, 2))                   # [B, n, n]
        diag = g.diagonal(dim1=1, dim2=2)                      # [B, n]
        return (g.unsqueeze(1) if pairs else None), g, diag, diag.unsqueeze(1)
    s = 2 * window + 1
    xp = F.pad(x, (0, 0, window, window))                     # [B, P, D], P = n + 2W
    p = n + 2 * window
    band = torch.stack([F.pad((xp[:, : p - d] * xp[:, d:]).sum(-1), (0, d)) for d in range(s)], dim=-1)  # [B, P, S]
    ar = torch.arange(s, device=x.device)
    centre = torch.arange(n, device=x.device).view(n, 1)
    # g[i, s, t] = band[i + min(s, t), |s - t|]  (padded position of slot s is i + s)
    g_cs = band[:, centre + torch.minimum(ar, torch.tensor(window, device=x.device)).view(1, s),
                (ar - window).abs().view(1, s)]               # [B, n, S]
    g_cc = band[:, window:window + n, 0]
    g_ss = band[:, centre + ar.view(1, s), 0]
    if not pairs:
        return None, g_cs, g_cc, g_ss
    pos = centre.view(n, 1, 1) + torch.minimum(ar.view(1, s, 1), ar.view(1, 1, s))
    dd = (ar.view(s, 1) - ar.view(1, s)).abs().unsqueeze(0)
    return band[:, pos, dd], g_cs, g_cc, g_ss                 # g_st [B, n, S, S]


def relations(x: torch.Tensor, window: int, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Distance ``[B, n, S]`` and angle ``[B, n, S, S]`` relations of ``x`` ``[B, n, D]``.

    Constants: out-of-sequence slots distance 1, angle 0; the self slot distance 0, angle 0.

    Angles depend only on differences, so they are computed from the Gram matrix of the states
    minus their mean (over the positions in ``mask`` when given): the dot products then have the
    size of the differences, not of the states, and the subtraction ``|h_s|^2 - 2 h_s.h_i +
    |h_i|^2`` keeps its precision even for states that nearly coincide (layers of a residual stack).
    """
    if x.dtype in (torch.float16, torch.bfloat16):
        x = x.float()
    b, n, _ = x.shape
    _, in_seq, is_self = window_slots(n, window, x.device)
    eps2 = EPS * EPS
    _, g_cs, g_cc, g_ss = _slot_grams(x, window, pairs=False)
    n_c = g_cc.clamp_min(eps2).sqrt()                          # [B, n]
    n_s = g_ss.clamp_min(eps2).sqrt()                          # [B, n|1, S]
    cos = g_cs / (n_c.unsqueeze(-1) * n_s)
    dist = 1 - cos
    dist = torch.where(is_self, torch.zeros_like(dist), torch.where(in_seq, dist, torch.ones_like(dist)))
    if mask is None:
        centre = x.mean(1, keepdim=True)
    else:
        w = mask.to(x.dtype).unsqueeze(-1)
        centre = (x * w).sum(1, keepdim=True) / w.sum(1, keepdim=True).clamp_min(1)
    g_st, g_cs, g_cc, g_ss = _slot_grams(x - centre.detach(), window)
    # |h_s - h_i|^2 = g_ss - 2 g_cs + g_cc ; <h_s - h_i, h_t - h_i> = g_st - g_cs - g_ct + g_cc
    # a difference vector that is zero (or lost in float rounding of the Gram entries) has no
    # direction: its angles are 0, as F.normalize of a zero vector would give
    scale = g_ss + g_cc.unsqueeze(-1)
    d2 = g_ss - 2 * g_cs + g_cc.unsqueeze(-1)
    const = is_self | ~in_seq | (d2 <= COINCIDE * scale + eps2)  # [B, n, S] slots whose angles are 0
    dn = torch.where(const, torch.ones_like(d2), d2.clamp_min(eps2).sqrt())
    num = g_st - g_cs.unsqueeze(-1) - g_cs.unsqueeze(-2) + g_cc.unsqueeze(-1).unsqueeze(-1)
    const2 = const.unsqueeze(-1) | const.unsqueeze(-2)         # [n, S, S]
    num = torch.where(const2, torch.zeros_like(num), num)
    angle = num / (dn.unsqueeze(-1) * dn.unsqueeze(-2))
    return dist, angle


def relation_masks(mask: torch.Tensor, window: int, groups: torch.Tensor | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Which relation entries count in the corrected (masked) mean, from a token mask ``[B, n]``.

    Distance ``[B, n, S]``: centre and slot are real tokens, the slot is inside the sequence and is
    not the centre. Angle ``[B, n, S, S]``: both slots qualify and differ from each other, and
    (with ``groups``, see :class:`~codekd.methods.align.Alignment`) neither slot received the
    same teacher tokens as the centre, since the teacher's difference vector is then 0 and its
    angle undefined.
    """
    b, n = mask.shape
    idx, in_seq, is_self = window_slots(n, window, mask.device)
    slot_ok = mask[:, idx] & in_seq & ~is_self                 # [B, n, S]
    m_d = mask.unsqueeze(-1) & slot_ok
    ang_ok = m_d
    if groups is not None:
        ang_ok = m_d & (groups[:, idx] != groups.unsqueeze(-1))
    s = idx.shape[1]
    diff = ~torch.eye(s, dtype=torch.bool, device=mask.device)
    m_a = ang_ok.unsqueeze(-1) & ang_ok.unsqueeze(-2) & diff
    return m_d, m_a


def _sq_err(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum of squared errors, number of entries) over ``mask`` (all entries when None)."""
    d = (a - b).pow(2)
    if mask is None:
        return d.sum(), torch.tensor(float(d.numel()), device=d.device)
    m = mask.expand_as(d)
    return (d * m).sum(), m.sum().to(d.dtype)


def _student_errors(hs: torch.Tensor, dt: torch.Tensor, at: torch.Tensor, m_d: torch.Tensor | None,
                    m_a: torch.Tensor | None, window: int, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    ds, as_ = relations(hs, window, mask)
    return _sq_err(ds, dt, m_d)[0], _sq_err(as_, at, m_a)[0]


def _errors(hs: torch.Tensor, dt: torch.Tensor, at: torch.Tensor, m_d: torch.Tensor | None, m_a: torch.Tensor | None,
            window: int, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Squared-error sums and entry counts of one stack's relations against the teacher's.

    Under autograd the student's relation tensors (about ten ``[B, n, S, S]`` intermediates per
    layer) are not kept for the backward pass: they are recomputed there, one layer at a time
    (activation checkpointing), so the peak memory holds one layer's relations, not all of them.
    """
    if hs.requires_grad and torch.is_grad_enabled():
        from torch.utils.checkpoint import checkpoint

        e_d, e_a = checkpoint(_student_errors, hs, dt, at, m_d, m_a, window, mask, use_reentrant=False)
    else:
        e_d, e_a = _student_errors(hs, dt, at, m_d, m_a, window, mask)
    c_d = torch.tensor(float(dt.numel()), device=dt.device) if m_d is None else m_d.expand_as(dt).sum().to(dt.dtype)
    c_a = torch.tensor(float(at.numel()), device=at.device) if m_a is None else m_a.expand_as(at).sum().to(at.dtype)
    return e_d, c_d, e_a, c_a


def word_relation_terms(student_layers: Sequence[torch.Tensor], teacher_layers: Sequence[torch.Tensor],
                        mask: torch.Tensor | None, window: int, groups: torch.Tensor | None = None
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(WR_dist, WR_angle)``: MSE of the relation tensors, one mean over all mapped layers.

    ``student_layers[k]`` ``[B, n, Ds]`` and ``teacher_layers[k]`` ``[B, n, Dt]`` are on common
    positions; ``mask`` ``[B, n]`` bool selects real tokens (None: every entry, paper-faithful).
    """
    sd = torch.zeros((), device=student_layers[0].device)
    sa, cd, ca = sd.clone(), sd.clone(), sd.clone()
    masks = relation_masks(mask, window, groups) if mask is not None else (None, None)
    for hs, ht in zip(student_layers, teacher_layers):
        with torch.no_grad():
            dt, at = relations(ht.detach(), window, mask)
        e_d, c_d, e_a, c_a = _errors(hs, dt, at, masks[0], masks[1], window, mask)
        sd, cd, sa, ca = sd + e_d, cd + c_d, sa + e_a, ca + c_a
    return sd / cd.clamp_min(1), sa / ca.clamp_min(1)


def layer_relation_terms(student_layers: Sequence[torch.Tensor], teacher_layers: Sequence[torch.Tensor],
                         mask: torch.Tensor | None, window: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(LTR_dist, LTR_angle)``: the relations along the layer axis, for every token.

    Each token's states in the ``K`` mapped layers form a sequence of length ``K``; needs one width
    per side across the mapped layers.
    """
    if len(student_layers) < 2:
        z = torch.zeros((), device=student_layers[0].device)
        return z, z
    xs = torch.stack(list(student_layers), dim=2)              # [B, n, K, Ds]
    b, n, k, _ = xs.shape
    with torch.no_grad():
        xt = torch.stack([t.detach() for t in teacher_layers], dim=2)
    with torch.no_grad():
        dt, at = relations(xt.reshape(b * n, k, -1), window)
    if mask is None:
        m_d = m_a = None
    else:
        tok = mask.reshape(b * n, 1).expand(b * n, k)
        m_d, m_a = relation_masks(tok, window)
    e_d, c_d, e_a, c_a = _errors(xs.reshape(b * n, k, -1), dt, at, m_d, m_a, window, None)
    return e_d / c_d.clamp_min(1), e_a / c_a.clamp_min(1)


def ckd_relation_loss(student_layers: Sequence[torch.Tensor], teacher_layers: Sequence[torch.Tensor],
                      mask: torch.Tensor | None, *, window: int = 10, gamma: float = 1.0,
                      groups: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """``WR_dist + WR_angle + gamma * (LTR_dist + LTR_angle)`` and its parts."""
    wr_d, wr_a = word_relation_terms(student_layers, teacher_layers, mask, window, groups)
    ltr_d, ltr_a = layer_relation_terms(student_layers, teacher_layers, mask, window)
    total = wr_d + wr_a + gamma * (ltr_d + ltr_a)
    return total, {"wr_dist": float(wr_d.detach()), "wr_angle": float(wr_a.detach()),
                   "ltr_dist": float(ltr_d.detach()), "ltr_angle": float(ltr_a.detach())}


# ------------------------------------------------------------------------------ method

def include_embeddings(setting: Any, family: str) -> bool:
    if setting == "auto":
        return family != "gru"
    return bool(setting)


def _auto_or_switch(v: Any) -> Any:
    if v not in ("auto", True, False) or isinstance(v, (int, float)) and not isinstance(v, bool):
        raise ValueError("must be auto, true or false")
    return v


@register_method
class CKD(FeatureMethod):
    __doc__ = __doc__
    name = "ckd"
    description = "contextual KD: word and layer-transforming relations of token states (Park et al. 2021)"
    formula = "compares the two models' word relations position by position"

    class Params(MethodParams):
        temperature: Temperature = 3.0
        alpha: Alpha = 0.7
        beta: Weight = 1.0
        gamma: Weight = 1.0       # layer-transforming relations
        window: Annotated[int, Field(ge=1)] = 10
        layer_map: LayerMapSpec = "uniform"
        align: AlignMode = "offsets"
        include_embeddings: Annotated[Union[str, bool], PlainValidator(_auto_or_switch)] = "auto"

    paper = Params(alpha=1.0, align="position")

    # one mapped layer, 3 tokens: student x = [1,0], [0,1], [1,1]; teacher y = [1,0], [0,1], [-1,0]; W = 1
    _spans = torch.tensor([[[0, 1], [1, 2], [2, 3]]])
    _z = torch.zeros(1, 3, 2)
    _s = Outputs(logits=torch.zeros(1, 3), hidden_states=(_z, torch.tensor([[[1., 0.], [0., 1.], [1., 1.]]])),
                 attention_mask=torch.ones(1, 3), offsets=_spans)
    _t = Outputs(logits=torch.zeros(1, 3), hidden_states=(_z, torch.tensor([[[1., 0.], [0., 1.], [-1., 0.]]])),
                 attention_mask=torch.ones(1, 3), offsets=_spans)
    _p = {"window": 1, "layer_map": [1], "include_embeddings": False}
    _why = ("distances differ at (i=1, slot 2) and (i=2, slot 0): (1 - (1 - 1/sqrt2))^2 = 1/2 each; angles differ at "
            "i=1, slots (0, 2) and (2, 0): (1/sqrt2 - 0)^2 = 1/2 each; one layer: no LTR; equal logits, no labels")
    golden = (
        Golden(_s, _t, None, total=1 / 4 + 1 / 2, params=_p, why=_why + "; masked: 4 distance, 2 angle entries",
               parts={"soft": 0.0, "wr_dist": 1 / 4, "wr_angle": 1 / 2, "ltr_dist": 0.0, "ltr_angle": 0.0}),
        Golden(_s, _t, None, total=1 / 9 + 1 / 27, params={**_p, "align": "position"},
               why=_why + "; position: means over all 3 x 3 and 3 x 3 x 3 entries",
               parts={"soft": 0.0, "wr_dist": 1 / 9, "wr_angle": 1 / 27, "ltr_dist": 0.0, "ltr_angle": 0.0}))
    del _spans, _z, _s, _t, _p, _why

    def embeddings(self) -> bool:
        if not include_embeddings(self.p.include_embeddings, self.ctx.student_family):
            return False
        if self.ctx.student_family == "gru":
            raise ConfigError("ckd: a BiGRU student's embedding output is H wide and its layers 2H wide, so "
                              "layer-transforming relations cannot include it (set include_embeddings: auto/false)")
        return True

    def check(self) -> None:
        super().check()
        if self.ctx.extra.get("teacher_pair_mode") == "separate" and self.p.align == "position":
            self.warn("ckd align=position with a separately encoded pair teacher compares unrelated positions")

    def feature_loss(self, states: MappedStates) -> tuple[torch.Tensor, dict[str, float]]:
        al = states.alignment
        return ckd_relation_loss([s.float() for s in states.student], states.teacher, states.mask,
                                 window=self.p.window, gamma=self.p.gamma, groups=al.groups if al else None)
