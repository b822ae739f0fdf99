"""Teacher-output cache: the frozen teacher's logits (and, on request, its per-layer pooled states
and the token states of chosen layers) per example id, fingerprinted.

A cache folder holds ``meta.json`` (fingerprint, settings, contents) and, per split,
``<split>.safetensors`` (``logits`` [N, C] float32; with ``pooled=True`` also ``pooled``
[N, L, H] float32, the teacher's pooled state after each of its L layers, what PKD reads) with
``<split>.ids.json`` (the example ids, row order). Lookups go by example id, never by batch
position, so any subsample, order or batch size reads the right rows.

With ``token_layers`` the cache also keeps the token states of those teacher layers (float16,
real tokens only, ragged: ``tokens_ptr`` [N+1] row pointers, ``tokens_offsets`` [S, 2] character
offsets, ``tokens_L<l>`` [S, H]), so a method that reads token states of known layers (CKD:
:meth:`~codekd.methods.base.Method.teacher_token_layers`) runs without the teacher too. That costs ``2 * H`` bytes per token and layer (all-MiniLM-L6-v2 on the demo's 4,420
functions: ~260 MB per layer), so it is opt-in and meant for small teachers and datasets; a
UniXcoder cache of Devign's 21k training functions at 512 tokens would take ~16 GB per layer.

A method can run from the cache when it needs nothing but what the cache holds
(:meth:`TeacherCache.source`, a :class:`~codekd.methods.sources.TeacherSource`): KD, DIST, DKD
(logits), PKD (logits + pooled states), CKD and TinyBERT (logits + token states of their mapped
layers).

The fingerprint is a SHA-256 over the teacher's weight, config and tokenizer files, the dataset's
files, and the settings that change the teacher's input (max length, normalisation, pair mode,
UniXcoder prefix). A cache whose fingerprint differs from the teacher and data it is used with is
refused.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from safetensors import safe_open
from safetensors.numpy import save_file

from ..data.loaders import TaskData, load_task_data, normalized_codes
from ..errors import ConfigError, DataError
from ..io import atomic_dir, atomic_write_json, check_output_dir, read_json
from ..methods.base import Outputs
from ..methods.sources import TeacherSource
from ..models.teacher import Teacher
from ..tasks import get_task
from .batching import Collator, code_lengths
from .budget import choose_precision
from .progress import progress as progress_display
from .sides import predict_outputs, teacher_side

CACHE_FORMAT = 1


_TEACHER_FILES = ("config.json", "model.safetensors", "pytorch_model.bin", "codekd_teacher.json",
                  "codekd_head.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json",
                  "merges.txt", "special_tokens_map.json", "added_tokens.json")
_DATA_FILES = ("train.jsonl", "valid.jsonl", "test.jsonl", "dev.jsonl", "data.jsonl", "train.txt", "valid.txt",
               "test.txt", "labels.json")


def _digest_file(h: Any, path: Path) -> str:
    """Feed ``path`` (its name, then its bytes) to ``h``; returns the file's own SHA-256."""
    h.update(path.name.encode() + b"\0")
    own = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
            own.update(block)
    return own.hexdigest()


def resolve_teacher_dir(path: str | Path) -> Path | None:
    """A teacher folder, or a ``teacher finetune`` run folder (its ``best/``); None for a hub id."""
    p = Path(path)
    if (p / "config.json").is_file():
        return p
    if (p / "best" / "config.json").is_file():
        return p / "best"
    return None


def fingerprint_parts(teacher: str | Path, data: str | Path, settings: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The cache fingerprint and, from the same single read of every file, what it is made of:
    ``{"teacher": {file: sha256}, "data": {file: sha256}, "settings": ...}`` (so a stale cache can
    say what changed)."""
    h = hashlib.sha256()
    parts: dict[str, Any] = {"teacher": {}, "data": {}, "settings": settings}
    tdir = resolve_teacher_dir(teacher)
    if tdir is None:
        h.update(f"hub:{teacher}".encode())
        parts["teacher"] = {"hub": str(teacher)}
    else:
        for name in _TEACHER_FILES:
            if (tdir / name).is_file():
                parts["teacher"][name] = _digest_file(h, tdir / name)
    droot = Path(data)
    for name in _DATA_FILES:
        if (droot / name).is_file():
            parts["data"][name] = _digest_file(h, droot / name)
    h.update(json.dumps(settings, sort_keys=True).encode())
    return h.hexdigest(), parts


def teacher_fingerprint(teacher: str | Path, data: str | Path, settings: dict[str, Any]) -> str:
    return fingerprint_parts(teacher, data, settings)[0]


def _differences(cached: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """What differs between the parts a cache was built from and the current ones."""
    out: list[str] = []
    old_s, new_s = cached.get("settings") or {}, now.get("settings") or {}
    for k in sorted(set(old_s) | set(new_s)):
        if old_s.get(k) != new_s.get(k):
            out.append(f"{k} {old_s.get(k)!r} in the cache, {new_s.get(k)!r} now")
    for side in ("teacher", "data"):
        if side not in cached:
            continue
        old_f, new_f = cached.get(side) or {}, now.get(side) or {}
        for name in sorted(set(old_f) | set(new_f)):
            if name not in new_f:
                out.append(f"{side} file {name} is gone")
            elif name not in old_f:
                out.append(f"{side} file {name} is new")
            elif old_f[name] != new_f[name]:
                out.append(f"{side} file {name} changed")
    return out


class TeacherCache:
    """A loaded cache; :meth:`rows_for` maps a split's example ids to cache rows."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        meta_path = self.folder / "meta.json"
        if self.folder.exists() and not self.folder.is_dir():
            raise ConfigError("not a teacher cache: a file, not a folder", path=self.folder)
        if not meta_path.exists():
            raise ConfigError("not a teacher cache (no meta.json)", path=self.folder)
        meta = read_json(meta_path, "teacher cache metadata")
        if not isinstance(meta, dict) or not isinstance(meta.get("fingerprint"), str):
            raise DataError("teacher cache metadata has no fingerprint (not written by codekd teacher cache?)",
                            path=meta_path)
        self.meta: dict[str, Any] = meta
        self._logits: dict[str, np.ndarray] = {}
        self._files: dict[str, Path] = {}
        self._arrays: dict[tuple[str, str], np.ndarray] = {}
        self._ids: dict[str, dict[str, int]] = {}
        self._handles: dict[str, Any] = {}
        self._slices: dict[tuple[str, str], Any] = {}
        #: rows whose stored states (pooled / token) were read by :meth:`lookup_fn`'s function; under
        #: DDP each process reads the rows of its own slices only (the logits, N x C, are read whole)
        self.read_stats: dict[str, int] = {"rows": 0, "state_rows": 0}

    @property
    def token_layers(self) -> tuple[int, ...]:
        """The teacher layers whose token states the cache holds (empty: none)."""
        return tuple(self.meta.get("token_layers", ()))

    @property
    def has_pooled(self) -> bool:
        """Whether the cache holds per-layer pooled states (built with ``pooled=True``)."""
        return "pooled" in self.meta.get("contents", ["logits"])

    @property
    def source(self) -> TeacherSource:
        """What this cache can stand in for (:meth:`TeacherSource.can_serve`)."""
        return TeacherSource.cache(pooled=self.has_pooled, token_layers=self.token_layers)

    @property
    def fingerprint(self) -> str:
        return self.meta["fingerprint"]

    def verify(self, fingerprint: str, parts: dict[str, Any] | None = None) -> None:
        """Refuse a cache built from another teacher, data or settings, saying what differs
        (``parts``: from :func:`fingerprint_parts`)."""
        if fingerprint == self.fingerprint:
            return
        cached = self.meta.get("parts") or {"settings": self.meta.get("settings") or {}}
        diff = _differences(cached, parts) if parts is not None else []
        if not diff:
            diff = ["the teacher's or the data's files changed" if "parts" not in self.meta else
                    "the teacher, data or settings differ"]
        shown = "; ".join(diff[:4]) + (f"; and {len(diff) - 4} more" if len(diff) > 4 else "")
        raise ConfigError(
            f"stale teacher cache: {shown} (cache {self.fingerprint[:12]}, expected {fingerprint[:12]}); rebuild it "
            "with 'codekd teacher cache'", path=self.folder)

    def _open(self, split: str, f: Path) -> Any:
        try:
            return safe_open(str(f), framework="numpy")
        except Exception as exc:  # SafetensorError: truncated, empty or not a safetensors file
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise DataError(f"teacher cache file is unreadable, truncated or corrupt ({first}); rebuild the cache "
                            "with 'codekd teacher cache'", path=f) from None

    def logits(self, split: str) -> np.ndarray:
        if split not in self._logits:
            f = self.folder / f"{split}.safetensors"
            if not f.is_file():
                raise ConfigError(f"the teacher cache has no {split!r} split", path=self.folder)
            with self._open(split, f) as fh:  # only what is asked for is read
                if "logits" not in fh.keys():
                    raise DataError("teacher cache file holds no logits", path=f)
                logits = self._read(fh, "logits", f)
            ids_file = self.folder / f"{split}.ids.json"
            ids = read_json(ids_file, "teacher cache id list")
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                raise DataError("teacher cache id list must be a JSON list of example ids", path=ids_file)
            if len(ids) != len(logits):
                raise DataError(f"teacher cache id list has {len(ids)} ids for {len(logits)} rows of logits",
                                path=ids_file)
            self._files[split] = f
            self._ids[split] = {i: r for r, i in enumerate(ids)}
            self._logits[split] = logits
        return self._logits[split]

    @staticmethod
    def _read(fh: Any, key: str, f: Path) -> np.ndarray:
        try:
            return fh.get_tensor(key)
        except Exception as exc:  # a body shorter than its header says
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise DataError(f"teacher cache file is truncated or corrupt ({first}); rebuild the cache with "
                            "'codekd teacher cache'", path=f) from None

    def rows_for(self, split: str, ids: Sequence[str]) -> np.ndarray:
        self.logits(split)
        table = self._ids[split]
        rows = np.empty(len(ids), dtype=np.int64)
        for k, i in enumerate(ids):
            r = table.get(i)
            if r is None:
                raise ConfigError(f"the teacher cache has no example id {i!r} in split {split!r}", path=self.folder)
            rows[k] = r
        return rows

    def _array(self, split: str, key: str) -> np.ndarray | None:
        """One stored array of a split, read on first use (None if the cache does not hold it)."""
        self.logits(split)
        if (split, key) not in self._arrays:
            f = self._files[split]
            with self._open(split, f) as fh:
                self._arrays[(split, key)] = self._read(fh, key, f) if key in fh.keys() else None
        return self._arrays[(split, key)]

    def _slice(self, split: str, key: str) -> Any:
        """A lazy reader of one stored array (rows read from the memory-mapped file on indexing)."""
        self.logits(split)
        if (split, key) not in self._slices:
            f = self._files[split]
            if split not in self._handles:
                self._handles[split] = self._open(split, f)
            fh = self._handles[split]
            if key not in fh.keys():
                raise ConfigError(f"the teacher cache holds no {key!r} array", path=f)
            self._slices[(split, key)] = fh.get_slice(key)
        return self._slices[(split, key)]

    def _rows(self, split: str, key: str, rows: np.ndarray) -> np.ndarray:
        sl = self._slice(split, key)
        try:
            return np.stack([sl[int(r):int(r) + 1][0] for r in rows]) if len(rows) else np.zeros((0,))
        except Exception as exc:  # a body shorter than its header says
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise DataError(f"teacher cache file is truncated or corrupt ({first}); rebuild the cache with "
                            "'codekd teacher cache'", path=self._files[split]) from None

    def pooled(self, split: str) -> np.ndarray:
        """``[N, L, H]``: the teacher's pooled state after each layer, row order as :meth:`logits`."""
        states = self._array(split, "pooled")
        if states is None:
            raise ConfigError("the teacher cache holds no pooled states; rebuild it with pooled states "
                              "('codekd teacher cache --pooled') for methods that read them (PKD)", path=self.folder)
        return states

    def check_token_layers(self, layers: Sequence[int]) -> None:
        reason = self.source.missing_token_layers(layers)
        if reason:
            raise ConfigError(reason, path=self.folder)

    def _token_batch(self, split: str, rows: np.ndarray, layers: Sequence[int]):
        ptr = self._array(split, "tokens_ptr")  # N + 1 row pointers; the token rows are read lazily
        t = {k: self._slice(split, k) for k in ("tokens_offsets", *(f"tokens_L{layer}" for layer in layers))}
        starts, ends = ptr[rows], ptr[rows + 1]
        lens = ends - starts
        width = int(lens.max()) if len(lens) else 0
        b = len(rows)
        mask = np.zeros((b, width), dtype=np.int64)
        offsets = np.zeros((b, width, 2), dtype=np.int64)
        states = {layer: None for layer in layers}
        for layer in layers:
            h = t[f"tokens_L{layer}"]
            states[layer] = np.zeros((b, width, h.get_shape()[1]), dtype=np.float32)
        for k in range(b):
            s, e, n = int(starts[k]), int(ends[k]), int(lens[k])
            mask[k, :n] = 1
            offsets[k, :n] = t["tokens_offsets"][s:e]
            for layer in layers:
                states[layer][k, :n] = t[f"tokens_L{layer}"][s:e]
        depth = max(layers) + 1 if layers else 0
        hidden = tuple(torch.from_numpy(states[i]) if i in states else None for i in range(depth))
        return hidden, torch.from_numpy(mask), torch.from_numpy(offsets)

    def lookup_fn(self, data: TaskData, splits: Sequence[str] = ("train",), *, pooled: bool = False,
                  token_layers: Sequence[int] = ()):
        """A ``(split, row_index_tensor) -> Outputs`` function for the engine (rows resolved once, by
        id): ``logits``; with ``pooled`` also ``pooled_states`` (one ``[B, H]`` tensor per teacher
        layer); with ``token_layers`` also ``hidden_states`` (those layers' token states, zero-padded
        ``[B, T, H]``, None at the other layers), ``attention_mask`` and ``offsets``."""
        token_layers = tuple(sorted(set(token_layers)))
        if token_layers:
            self.check_token_layers(token_layers)
        tables = {}
        for s in splits:
            rows = torch.from_numpy(self.rows_for(s, data[s].ids))
            if pooled:
                self._slice(s, "pooled")  # a missing array is an error now, not at the first step
            tables[s] = (torch.from_numpy(self.logits(s)), rows)

        def lookup(split: str, index: torch.Tensor) -> Outputs:
            logits, rows = tables[split]
            r = rows[index.cpu()]
            self.read_stats["rows"] += len(r)
            pooled_states = None
            if pooled:  # only this batch's rows are read from the file
                pooled_states = tuple(torch.from_numpy(self._rows(split, "pooled", r.numpy())).float().unbind(1))
            if pooled or token_layers:
                self.read_stats["state_rows"] += len(r)
            out = Outputs(logits=logits[r], pooled_states=pooled_states)
            if token_layers:
                out.hidden_states, out.attention_mask, out.offsets = self._token_batch(split, r.numpy(), token_layers)
            return out

        return lookup


def cache_settings(teacher: Any, normalization: str, task: str, fraction: float | None = None,
                   data_seed: int = 0) -> dict[str, Any]:
    """What a cache's fingerprint covers besides the teacher and the data (a subsample, when one was
    cached, is part of it: its rows are the only ones the cache holds)."""
    out = {"format": CACHE_FORMAT, "task": task, "normalization": normalization, "max_length": teacher.max_length,
           "pair_mode": teacher.pair_mode, "unixcoder": teacher.unixcoder, "num_labels": teacher.num_labels}
    if fraction is not None:
        out.update(fraction=fraction, data_seed=data_seed)
    return out


def estimate_cache_bytes(*, examples: int, tokens: int, num_labels: int, layers: int, hidden: int,
                         pooled: bool = False, token_layers: int = 0) -> int:
    """Bytes a cache will take on disk: logits (float32), ``pooled`` states (float32, every layer),
    and ``token_layers`` layers of token states (float16, ``tokens`` real tokens in all, plus their
    offsets)."""
    total = examples * num_labels * 4
    if pooled:
        total += examples * layers * hidden * 4
    if token_layers:
        total += tokens * (token_layers * hidden * 2 + 16) + (examples + 1) * 8
    return int(total)


def _cache_precision(requested: str, side: Any, teacher: Any, split: Any, normalization: str,
                     dev: torch.device) -> tuple[str, dict[str, Any]]:
    """``auto``: time the teacher's forward on a real batch in fp32 and bf16 (CPU), as training does."""
    if requested != "auto" or dev.type == "cuda":
        return choose_precision(requested, cuda=dev.type == "cuda", step=None)
    batch = Collator(split, normalization, {"x": side.encode})(list(range(min(32, len(split)))))

    def forward(bf16: bool) -> None:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            side.forward(teacher, batch["x"], False)

    choice, info = choose_precision("auto", cuda=False, step=forward)
    return choice, {k: v for k, v in info.items() if k != "probe"}


def _token_count(teacher: Any, td: TaskData, splits: Sequence[str], normalization: str) -> int:
    """Real teacher tokens over ``splits`` (the tokenizer only; no model run)."""
    total = 0
    for s in splits:
        split = td[s]
        for start in range(0, len(split), 256):
            codes = normalized_codes(split, range(start, min(start + 256, len(split))), normalization)
            b = [c[1] for c in codes] if codes and len(codes[0]) > 1 else None
            enc = teacher.encode([c[0] for c in codes], b)
            total += int(enc["attention_mask"].sum()) + (int(enc["attention_mask_b"].sum()) if "attention_mask_b" in enc else 0)
    return total


def build_teacher_cache(teacher_path: str | Path, data: str | Path, task: str, out: str | Path, *,
                        splits: Sequence[str] = ("train",), normalization: str = "whitespace",
                        max_length: int | None = None, batch_size: int = 64, device: str | None = None,
                        pooled: bool = False, token_layers: Sequence[int] = (),
                        progress: bool = True, precision: str = "no", fraction: float | None = None,
                        data_seed: int = 0, dtype: str | None = None,
                        device_map: str | dict[str, Any] | None = None, bucket: bool = True,
                        pad_to_max_length: bool = False) -> dict[str, Any]:
    """Run the frozen teacher over ``splits`` and store its logits per example id (with ``pooled``
    also its pooled state after each layer, for PKD; with ``token_layers`` the token states of those
    layers, 0 = embeddings, for CKD). ``fraction`` caches only the seeded subsample that runs with
    the same ``fraction`` and ``data_seed`` train on (part of the fingerprint). ``precision``: ``no`` (fp32), ``bf16``, or ``auto`` (bf16 where
    a timed forward on a real batch shows it faster; see :mod:`codekd.engine.budget`); stored
    arrays are float32 (token states float16) either way. ``dtype`` (``bfloat16``/``float16``) loads
    the teacher's weights in that type (half the memory of a big teacher); ``device_map`` spreads a
    teacher larger than one GPU over the GPUs (``from_pretrained``'s, e.g. ``auto``). Batches are
    length-bucketed (sorted by length) and padded to their longest row; ``bucket=False`` keeps the
    split's order and ``pad_to_max_length`` pads every batch to ``max_length`` (the paper's way; for
    benchmarks). The size the cache will
    take, estimated from the teacher's tokenisation of the data, is in ``meta["estimated_bytes"]``
    and printed before the teacher runs when ``progress`` is on."""
    t = get_task(task)
    check_output_dir(out, markers=("meta.json",), what="teacher cache")  # before any work
    tdir = resolve_teacher_dir(teacher_path)
    td = load_task_data(data, t, splits=tuple(splits), fraction=fraction, seed=data_seed)
    teacher = Teacher.load(str(tdir or teacher_path), td.num_labels, is_pair=t.is_pair, max_length=max_length,
                           dtype=dtype, strict_labels=True, device_map=device_map)
    if teacher.num_labels != td.num_labels:
        raise DataError(f"the teacher has {teacher.num_labels} labels, the data {td.num_labels}", path=data)
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    teacher.place(dev).eval().requires_grad_(False)  # (a device_map-dispatched teacher keeps its layers)
    side = teacher_side(teacher, pad_to_max_length=pad_to_max_length)
    token_layers = tuple(sorted({int(x) for x in token_layers}))
    bad = [x for x in token_layers if not 0 <= x <= teacher.num_layers]
    if bad:
        raise ConfigError(f"token layers {bad} out of range: the teacher has layers 0 (embeddings) to {teacher.num_layers}")
    if token_layers and teacher.separate:
        raise ConfigError("token states of a separately encoded pair teacher are not cached; use the live teacher")
    settings = cache_settings(teacher, normalization, t.name, fraction, data_seed)
    fp, parts = fingerprint_parts(teacher_path, data, settings)
    estimate = estimate_cache_bytes(
        examples=sum(len(td[s]) for s in splits), num_labels=teacher.num_labels, layers=teacher.num_layers,
        hidden=teacher.hidden_size, pooled=pooled, token_layers=len(token_layers),
        tokens=_token_count(teacher, td, splits, normalization) if token_layers else 0)
    if progress:
        print(f"teacher cache: about {estimate / 1e6:,.1f} MB on disk ({teacher.num_layers} layers x "
              f"{teacher.hidden_size}; pooled={pooled}, token layers {list(token_layers) or 'none'})", file=sys.stderr)
    t0 = time.perf_counter()
    precision, precision_info = _cache_precision(precision, side, teacher, td[splits[0]], normalization, dev)
    autocast = torch.autocast(dev.type, dtype=torch.bfloat16 if precision == "bf16" else torch.float16,
                              enabled=precision in ("bf16", "fp16"))

    with atomic_dir(out, marker="meta.json", what="teacher cache") as tmp, progress_display(progress) as prog:
        counts = {}
        for s in splits:
            split = td[s]
            with autocast:
                logits, states, tokens = predict_outputs(side, teacher, split, normalization, batch_size, dev,
                                                         lengths=code_lengths(split, normalization) if bucket else None,
                                                         progress=prog,
                                                         pooled=pooled, token_layers=token_layers)
            arrays = {"logits": np.ascontiguousarray(logits, dtype=np.float32)}
            if pooled:
                arrays["pooled"] = np.ascontiguousarray(states, dtype=np.float32)
            if tokens:
                arrays.update({k: np.ascontiguousarray(v) for k, v in tokens.items()})
            save_file(arrays, str(tmp / f"{s}.safetensors"))
            (tmp / f"{s}.ids.json").write_text(json.dumps(split.ids))
            counts[s] = len(split)
        meta = {"fingerprint": fp, "parts": parts, "settings": settings, "teacher": str(teacher_path),
                "teacher_folder": str(tdir.resolve()) if tdir is not None else None, "data": str(Path(data).resolve()),
                "splits": counts, "contents": ["logits"] + (["pooled"] if pooled else []) + (["tokens"] if token_layers else []),
                "token_layers": list(token_layers), "seconds": round(time.perf_counter() - t0, 2), "device": str(dev),
                "precision": precision, "precision_info": precision_info, "estimated_bytes": estimate,
                "dtype": dtype or "float32"}
        atomic_write_json(tmp / "meta.json", meta)
    return meta
