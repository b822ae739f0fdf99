"""Token alignment across tokenizers (SPEC section 6).

Teacher and student tokenise the same normalised code differently, so a token-level loss must not
compare position ``n`` of one with position ``n`` of the other. Both encoders return character
offsets into the same normalised string (for function pairs the engine shifts the second
function's offsets past the first, so offsets index one virtual text ``a + "\\n" + b``).

Modes (the ``align`` parameter of the token-level methods):

``offsets`` (default)
    Pool the teacher's token states onto the student's tokens: student token ``i`` receives the
    mean of the teacher tokens whose character span overlaps its own (``s0 < t1 and t0 < s1``).
    Relations and hidden-state losses are then computed on the student's token positions, so both
    sides describe the same code spans. A student token that overlaps no teacher token (a
    whitespace-only BPE token, whose span is empty; or code the teacher truncated away) is
    masked out. Special tokens (empty ``(0, 0)`` spans: ``<s>``, ``</s>``, ``[CLS]``, UniXcoder's
    prefix) and padding never enter a relation.
``shared-tokens``
    For a student that uses the teacher's tokenizer: the k-th real token of the student is the
    k-th real token of the teacher (special tokens and padding dropped on both sides, which also
    absorbs a UniXcoder prefix). The two tokenizations are checked to be identical (same spans);
    a mismatch is a :class:`~codekd.errors.ConfigError` naming the example.
``position`` (paper-faithful)
    What the paper's code does: position ``n`` of the student against position ``n`` of the
    teacher, over the first ``min(T_s, T_t)`` positions, special tokens and padding included, no
    mask. With different tokenizers this compares unrelated code spans; it is kept only to
    reproduce the paper.

An :class:`Alignment` turns per-layer states of either side into tensors on common positions
(``[B, n, D]``) plus a validity mask (``None`` for ``position``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import ConfigError

ALIGN_MODES: tuple[str, ...] = ("offsets", "shared-tokens", "position")


def real_token_mask(attention_mask: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """``[B, T]`` bool: real (non-padding) tokens with a non-empty character span.

    Special tokens carry ``(0, 0)`` and padding has ``attention_mask == 0``; both are excluded.
    """
    return attention_mask.bool() & (offsets[..., 1] > offsets[..., 0])


def overlap_matrix(student_offsets: torch.Tensor, student_valid: torch.Tensor,
                   teacher_offsets: torch.Tensor, teacher_valid: torch.Tensor) -> torch.Tensor:
    """``[B, Ts, Tt]`` bool: student token ``i`` and teacher token ``j`` cover overlapping characters."""
    s0, s1 = student_offsets[..., 0].unsqueeze(2), student_offsets[..., 1].unsqueeze(2)
    t0, t1 = teacher_offsets[..., 0].unsqueeze(1), teacher_offsets[..., 1].unsqueeze(1)
    ov = (s0 < t1) & (t0 < s1)
    return ov & student_valid.unsqueeze(2) & teacher_valid.unsqueeze(1)


def mean_pool_matrix(overlap: torch.Tensor, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Row-normalise an overlap matrix: ``(A [B, Ts, Tt], aligned [B, Ts])`` with ``A @ H_t`` the
    mean of the overlapping teacher states; rows without any overlap are zero and not ``aligned``."""
    counts = overlap.sum(-1, keepdim=True)
    a = overlap.to(dtype) / counts.clamp_min(1).to(dtype)
    return a, counts.squeeze(-1) > 0


def _banded(overlap: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Compact form of a row-normalised overlap matrix: ``(index [B, Ts, K], weight [B, Ts, K], group [B, Ts])``.

    The teacher tokens a student token overlaps are consecutive (offsets increase along a
    sequence), so row ``i`` is stored as the ``K`` teacher positions from its first overlap on
    (``K`` = the widest row of the batch), with weight ``1/count`` where they overlap, else 0.
    Pooling then costs ``O(B * Ts * K * D)`` instead of a dense ``[B, Ts, Tt] @ [B, Tt, D]``.
    ``group``: equal for student tokens that receive exactly the same teacher tokens (pieces of one
    teacher token), unique (negative) for tokens that receive none.
    """
    b, ts, tt = overlap.shape
    pos = torch.arange(tt, device=overlap.device)
    has = overlap.any(-1)
    first = torch.where(overlap, pos, tt).amin(-1).clamp_max(tt - 1)
    last = torch.where(overlap, pos, -1).amax(-1)
    k = int((last - first + 1).clamp_min(1).max()) if ts and tt else 1
    index = (first.unsqueeze(-1) + torch.arange(k, device=overlap.device)).clamp_max(tt - 1)
    hit = torch.gather(overlap, 2, index) & (first.unsqueeze(-1) + torch.arange(k, device=overlap.device) < tt)
    # a clamped index may repeat the last position: keep each teacher position once
    hit = hit & torch.cat([torch.ones_like(hit[..., :1]), index[..., 1:] != index[..., :-1]], dim=-1)
    counts = hit.sum(-1, keepdim=True).clamp_min(1)
    weight = hit.to(dtype) / counts.to(dtype)
    weight = weight * has.unsqueeze(-1).to(dtype)
    lone = -1 - torch.arange(ts, device=overlap.device).expand(b, ts)
    group = torch.where(has, first * tt + last, lone)
    return index, weight, group


def shared_token_matrix(student_offsets: torch.Tensor, student_valid: torch.Tensor,
                        teacher_offsets: torch.Tensor, teacher_valid: torch.Tensor,
                        dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """One-hot ``[B, Ts, Tt]``: the k-th real student token <-> the k-th real teacher token.

    Raises :class:`ConfigError` when the real tokens of an example differ (count or spans).
    """
    b, ts, tt = student_offsets.shape[0], student_offsets.shape[1], teacher_offsets.shape[1]
    a = torch.zeros(b, ts, tt, dtype=dtype, device=student_offsets.device)
    for row in range(b):
        si = torch.nonzero(student_valid[row], as_tuple=False).squeeze(-1)
        ti = torch.nonzero(teacher_valid[row], as_tuple=False).squeeze(-1)
        n = min(len(si), len(ti))
        same = len(si) == len(ti) and torch.equal(student_offsets[row, si], teacher_offsets[row, ti])
        if not same:
            # the teacher may have truncated the tail: accept a common prefix, refuse anything else
            if n == 0 or not torch.equal(student_offsets[row, si[:n]], teacher_offsets[row, ti[:n]]):
                raise ConfigError(
                    f"align=shared-tokens: the student's and the teacher's tokens differ in example {row} of the "
                    f"batch ({len(si)} vs {len(ti)} real tokens); shared-tokens needs a student that uses the "
                    "teacher's tokenizer (use align=offsets otherwise)")
        a[row, si[:n], ti[:n]] = 1
    return a, a.sum(-1) > 0


@dataclass
class Alignment:
    """Common token positions for the two sides of a batch.

    ``offsets`` / ``shared-tokens``: teacher states are carried onto the student's ``Ts``
    positions, row ``i`` being the weighted sum of teacher positions ``index[:, i]`` with
    ``weight[:, i]`` (see :func:`_banded`; :attr:`matrix` gives the dense ``[B, Ts, Tt]`` form).
    ``mask``: ``[B, n]`` bool of the positions allowed into a loss, or ``None`` (``position``
    mode: everything counts). ``length``: ``n``. ``groups``: ``[B, n]``, equal for student tokens
    that receive the very same teacher tokens (their pooled teacher states coincide, so the
    teacher's difference vector between them is 0 and an angle on it is undefined).
    """

    mode: str
    length: int
    mask: torch.Tensor | None
    index: torch.Tensor | None = None
    weight: torch.Tensor | None = None
    teacher_length: int | None = None
    groups: torch.Tensor | None = None

    @property
    def matrix(self) -> torch.Tensor | None:
        """The dense pooling matrix ``[B, Ts, Tt]`` (for inspection; pooling does not build it)."""
        if self.index is None:
            return None
        b, ts, _ = self.index.shape
        a = torch.zeros(b, ts, int(self.teacher_length), dtype=self.weight.dtype, device=self.weight.device)
        return a.scatter_add_(2, self.index, self.weight)

    def student(self, h: torch.Tensor) -> torch.Tensor:
        """Student states ``[B, Ts, D]`` on the common positions."""
        return h[:, : self.length]

    def teacher(self, h: torch.Tensor) -> torch.Tensor:
        """Teacher states ``[B, Tt, D]`` on the common positions (pooled onto the student tokens)."""
        if self.index is None:
            return h[:, : self.length]
        b, ts, k = self.index.shape
        d = h.shape[-1]
        w = self.weight.to(h.dtype)
        out = h.new_zeros(b, ts, d)
        for r in range(k):
            out = out + w[..., r:r + 1] * torch.gather(h, 1, self.index[..., r:r + 1].expand(b, ts, d))
        return out


def align_tokens(mode: str, *, student_mask: torch.Tensor, teacher_mask: torch.Tensor,
                 student_offsets: torch.Tensor | None = None, teacher_offsets: torch.Tensor | None = None) -> Alignment:
    """Build the :class:`Alignment` of one batch (see the module docstring for the modes)."""
    if mode == "position":
        n = min(student_mask.shape[1], teacher_mask.shape[1])
        return Alignment("position", n, None)
    if mode not in ALIGN_MODES:
        raise ConfigError(f"unknown align mode {mode!r} (use one of {', '.join(ALIGN_MODES)})")
    if student_offsets is None or teacher_offsets is None:
        raise ConfigError(f"align={mode} needs the character offsets of both tokenizations; the engine did not "
                          "provide them (the method must declare needs.token_alignment)")
    s_valid = real_token_mask(student_mask, student_offsets)
    t_valid = real_token_mask(teacher_mask, teacher_offsets)
    if mode == "offsets":
        overlap = overlap_matrix(student_offsets, s_valid, teacher_offsets, t_valid)
    else:
        overlap = shared_token_matrix(student_offsets, s_valid, teacher_offsets, t_valid)[0] > 0
    index, weight, groups = _banded(overlap, torch.float32)
    aligned = overlap.any(-1)
    return Alignment(mode, student_mask.shape[1], s_valid & aligned, index, weight, teacher_offsets.shape[1], groups)


def check_align_mode(mode: object) -> None:
    if mode not in ALIGN_MODES:
        raise ConfigError(f"align must be one of {', '.join(ALIGN_MODES)}, got {mode!r}")


__all__ = ["ALIGN_MODES", "Alignment", "align_tokens", "check_align_mode", "mean_pool_matrix", "overlap_matrix",
           "real_token_mask", "shared_token_matrix"]
