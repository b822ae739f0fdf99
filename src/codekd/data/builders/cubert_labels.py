"""CuBERT's own label list for exception classification.

Source (checked): the CuBERT release README (google-research/google-research, ``cubert/README.md``
at commit 076d106b81aedb3425c0d12c4b0b019817b08ca2,
section "Benchmarks and Fine-Tuned Models", item "Exception classification"), which lists the
masked exception types of the ETH Py150 Open exception benchmark (Kanade et al., ICML 2020). The
README lists these 20 names plus ``None``, which it says "never occurs in the data and will be
removed in a future release"; ``None`` is therefore left out here. The order is the README's.
"""

from __future__ import annotations

CUBERT_EXCEPTION_LABELS: tuple[str, ...] = (
    "ValueError",
    "KeyError",
    "AttributeError",
    "TypeError",
    "OSError",
    "IOError",
    "ImportError",
    "IndexError",
    "DoesNotExist",
    "KeyboardInterrupt",
    "StopIteration",
    "AssertionError",
    "SystemExit",
    "RuntimeError",
    "HTTPError",
    "UnicodeDecodeError",
    "NotImplementedError",
    "ValidationError",
    "ObjectDoesNotExist",
    "NameError",
)

assert len(CUBERT_EXCEPTION_LABELS) == 20 and len(set(CUBERT_EXCEPTION_LABELS)) == 20
