"""The BiGRU student: a Hugging Face-style model (save_pretrained / from_pretrained / Auto classes).

Architecture (``H`` = ``config.hidden_size``, the per-direction GRU size):

* embeddings: word (vocab x H) + learned absolute positions (max_position_embeddings x H, positions
  ``0..T-1``) -> LayerNorm -> dropout. The embedding width equals ``H``.
* ``num_hidden_layers`` bidirectional GRU layers. Layer 1 reads the H-wide embeddings, later layers
  read the previous layer's 2H-wide output. Each direction is its own single-layer ``nn.GRU``, so
  a layer has exactly the parameters of ``nn.GRU(in, H, bidirectional=True)``.
* pooled vector = forward state at the last real token (+) backward state at the first token (2H).
* a RoBERTa-style head: dense(2H -> 2H) -> tanh -> dropout -> out_proj(2H -> num_labels), with
  dropout also before the dense layer as in ``RobertaClassificationHead``.

Padding (right padding; ``attention_mask`` 1 = real token). No state ever runs through padding:

* forward direction: padding comes after the real tokens, so the states at real positions never
  saw it; the final state is gathered at ``length - 1``.
* backward direction: every sequence is reversed *within its own length* with a gather
  (``idx[t] = length-1-t`` for ``t < length``, else ``t``), run through the GRU, and un-reversed
  with the same gather (the permutation is its own inverse). The backward GRU therefore starts at
  the last real token, and its state at position 0 has read exactly the real tokens.
* layer outputs are zeroed at padding positions before they feed the next layer.

Everything is tensor ops (``gather``, ``where``, ``arange``): no ``pack_padded_sequence`` and no
Python loop over the batch, so the forward exports to ONNX (see STACK-NOTES.md). Left padding is
not supported (the tokenizers used by codekd pad on the right).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers import (AutoConfig, AutoModel, AutoModelForMaskedLM, AutoModelForSequenceClassification,
                          PreTrainedConfig, PreTrainedModel)
from transformers import initialization as init
from transformers.modeling_outputs import ModelOutput

from ..heads import classification_loss


class BiGRUConfig(PreTrainedConfig):
    """Configuration of the codekd BiGRU student (``model_type = "codekd-bigru"``).

    ``hidden_size`` is the per-direction GRU size and also the embedding width; layer outputs and
    the pooled vector are ``2 * hidden_size`` wide (see :attr:`state_size`).
    """

    model_type = "codekd-bigru"

    vocab_size: int = 2000
    hidden_size: int = 176
    num_hidden_layers: int = 2
    max_position_embeddings: int = 512
    hidden_dropout_prob: float | int = 0.1
    classifier_dropout: float | int | None = None
    layer_norm_eps: float = 1e-5
    initializer_range: float = 0.02
    pad_token_id: int | None = 1
    bos_token_id: int | None = 0
    eos_token_id: int | list[int] | None = 2
    tie_word_embeddings: bool = False

    @property
    def state_size(self) -> int:
        """Width of each layer's output and of the pooled vector (both directions): ``2 * hidden_size``."""
        return 2 * self.hidden_size


@dataclass
class BiGRUOutput(ModelOutput):
    """Output of :class:`BiGRUModel` / :class:`BiGRUForSequenceClassification`.

    * ``logits``: ``[B, num_labels]`` (classifier only).
    * ``hidden_states``: with ``output_hidden_states=True``, a tuple of ``num_hidden_layers + 1``
      tensors: the embedding output ``[B, T, H]`` then each GRU layer's output ``[B, T, 2H]``
      (forward ++ backward), zero at padding positions.
    * ``pooled_states``: with ``output_hidden_states=True``, a tuple of ``num_hidden_layers``
      tensors ``[B, 2H]``: per layer, forward state at the last real token ++ backward state at the
      first token (the "final state, both directions" PKD uses). The last one is ``pooler_output``.
    * ``last_hidden_state``: ``[B, T, 2H]``; ``pooler_output``: ``[B, 2H]``.
    """

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    last_hidden_state: torch.Tensor | None = None
    pooler_output: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    pooled_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


class BiGRUEmbeddings(nn.Module):
    def __init__(self, config: BiGRUConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        seq_len = input_ids.shape[1]
        positions = torch.arange(seq_len, device=input_ids.device).unsqueeze(0)
        x = self.word_embeddings(input_ids) + self.position_embeddings(positions)
        return self.dropout(self.LayerNorm(x))


def reverse_within_length(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse ``x[b, :lengths[b]]`` along dim 1 for every row, leaving padding positions in place.

    ``x`` is ``[B, T, D]``; ``lengths`` is ``[B]``. Applying it twice gives ``x`` back.
    """
    seq_len = x.shape[1]
    pos = torch.arange(seq_len, device=x.device).unsqueeze(0)  # [1, T]
    lens = lengths.unsqueeze(1)  # [B, 1]
    idx = torch.where(pos < lens, lens - 1 - pos, pos)  # [B, T]
    idx = idx.unsqueeze(-1).expand(-1, -1, x.shape[2])
    return torch.gather(x, 1, idx)


class BiGRULayer(nn.Module):
    """One bidirectional GRU layer with length-aware reversal for the backward direction."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.forward_gru = nn.GRU(input_size, hidden_size, num_layers=1, batch_first=True)
        self.backward_gru = nn.GRU(input_size, hidden_size, num_layers=1, batch_first=True)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` [B, T, in], ``lengths`` [B], ``mask`` [B, T, 1] float -> (output [B, T, 2H], pooled [B, 2H])."""
        fwd, _ = self.forward_gru(x)
        bwd_rev, _ = self.backward_gru(reverse_within_length(x, lengths))
        bwd = reverse_within_length(bwd_rev, lengths)
        out = torch.cat([fwd, bwd], dim=-1) * mask
        last = (lengths - 1).view(-1, 1, 1).expand(-1, 1, fwd.shape[2])
        fwd_last = torch.gather(fwd, 1, last).squeeze(1)
        bwd_first = bwd[:, 0, :]
        return out, torch.cat([fwd_last, bwd_first], dim=-1)


class BiGRUPreTrainedModel(PreTrainedModel):
    config_class = BiGRUConfig
    config: BiGRUConfig
    base_model_prefix = "bigru"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = False

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, nn.GRU):
            # torch's default GRU init: U(-1/sqrt(H), 1/sqrt(H)) for every weight and bias.
            bound = 1.0 / (module.hidden_size ** 0.5)
            for param in module.parameters():
                init.uniform_(param, -bound, bound)


class BiGRUModel(BiGRUPreTrainedModel):
    """Embeddings + a stack of bidirectional GRU layers (no classification head)."""

    def __init__(self, config: BiGRUConfig):
        super().__init__(config)
        h = config.hidden_size
        self.embeddings = BiGRUEmbeddings(config)
        self.layers = nn.ModuleList(
            [BiGRULayer(h if i == 0 else 2 * h, h) for i in range(config.num_hidden_layers)]
        )
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings.word_embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embeddings.word_embeddings = value

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> BiGRUOutput:
        kwargs.pop("token_type_ids", None)  # accepted for interface compatibility, unused
        if output_hidden_states is None:
            output_hidden_states = bool(getattr(self.config, "output_hidden_states", False))
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        mask = attention_mask.to(torch.long)
        lengths = mask.sum(dim=1).clamp(min=1)
        fmask = mask.unsqueeze(-1).to(self.embeddings.word_embeddings.weight.dtype)

        x = self.embeddings(input_ids) * fmask
        all_hidden: list[torch.Tensor] = [x]
        all_pooled: list[torch.Tensor] = []
        for i, layer in enumerate(self.layers):
            if i > 0:
                x = self.dropout(x)
            x, pooled = layer(x, lengths, fmask)
            all_hidden.append(x)
            all_pooled.append(pooled)
        out = BiGRUOutput(
            last_hidden_state=x,
            pooler_output=all_pooled[-1],
            hidden_states=tuple(all_hidden) if output_hidden_states else None,
            pooled_states=tuple(all_pooled) if output_hidden_states else None,
        )
        if return_dict is False:
            return out.to_tuple()
        return out


class BiGRUClassificationHead(nn.Module):
    """RoBERTa-style head on the pooled 2H vector: dropout, dense, tanh, dropout, out_proj."""

    def __init__(self, config: BiGRUConfig):
        super().__init__()
        width = 2 * config.hidden_size
        p = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dense = nn.Linear(width, width)
        self.dropout = nn.Dropout(p)
        self.out_proj = nn.Linear(width, config.num_labels)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        x = self.dropout(pooled)
        x = torch.tanh(self.dense(x))
        x = self.dropout(x)
        return self.out_proj(x)


class BiGRUForSequenceClassification(BiGRUPreTrainedModel):
    """BiGRU student with a classification head; mirrors ``RobertaForSequenceClassification``'s interface."""

    def __init__(self, config: BiGRUConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bigru = BiGRUModel(config)
        self.classifier = BiGRUClassificationHead(config)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.bigru.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.bigru.set_input_embeddings(value)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> BiGRUOutput:
        base = self.bigru(input_ids, attention_mask=attention_mask, output_hidden_states=output_hidden_states)
        logits = self.classifier(base.pooler_output)
        loss = None
        if labels is not None:
            loss = classification_loss(logits, labels, self.num_labels)
        out = BiGRUOutput(
            loss=loss,
            logits=logits,
            last_hidden_state=base.last_hidden_state,
            pooler_output=base.pooler_output,
            hidden_states=base.hidden_states,
            pooled_states=base.pooled_states,
        )
        if return_dict is False:
            return out.to_tuple()
        return out


class BiGRULMHead(nn.Module):
    """Per-token masked-LM head: dense(2H -> H) -> GELU -> LayerNorm -> decoder(H -> vocab) + bias.

    The transform brings the 2H-wide BiGRU output down to the embedding width H, so the decoder can
    share (tie) its weight with the word embeddings, as BERT's and RoBERTa's heads do.
    """

    def __init__(self, config: BiGRUConfig):
        super().__init__()
        h = config.hidden_size
        self.dense = nn.Linear(2 * h, h)
        self.layer_norm = nn.LayerNorm(h, eps=config.layer_norm_eps)
        self.decoder = nn.Linear(h, config.vocab_size, bias=False)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = self.layer_norm(nn.functional.gelu(self.dense(features)))
        return self.decoder(x) + self.bias


class BiGRUForMaskedLM(BiGRUPreTrainedModel):
    """BiGRU student with a masked-LM head (pre-training before distillation).

    Saved folders load into :class:`BiGRUForSequenceClassification` (``bigru.*`` weights kept, a new
    classifier initialised), which is how ``distill`` starts from a pre-trained student.
    """

    _tied_weights_keys = {"lm_head.decoder.weight": "bigru.embeddings.word_embeddings.weight"}

    def __init__(self, config: BiGRUConfig):
        super().__init__(config)
        self.bigru = BiGRUModel(config)
        self.lm_head = BiGRULMHead(config)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.bigru.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.bigru.set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head.decoder

    def set_output_embeddings(self, value: nn.Linear) -> None:
        self.lm_head.decoder = value

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> BiGRUOutput:
        """``logits`` [B, T, vocab]; with ``labels`` (``-100`` = not scored) also the masked-LM loss."""
        base = self.bigru(input_ids, attention_mask=attention_mask, output_hidden_states=output_hidden_states)
        logits = self.lm_head(base.last_hidden_state)
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1), ignore_index=-100)
        out = BiGRUOutput(loss=loss, logits=logits, last_hidden_state=base.last_hidden_state,
                          pooler_output=base.pooler_output, hidden_states=base.hidden_states,
                          pooled_states=base.pooled_states)
        if return_dict is False:
            return out.to_tuple()
        return out


def _register() -> None:
    try:
        AutoConfig.register(BiGRUConfig.model_type, BiGRUConfig)
    except ValueError:  # already registered (module reloaded)
        pass
    for auto_cls, model_cls in ((AutoModel, BiGRUModel), (AutoModelForSequenceClassification, BiGRUForSequenceClassification),
                                (AutoModelForMaskedLM, BiGRUForMaskedLM)):
        try:
            auto_cls.register(BiGRUConfig, model_cls)
        except ValueError:
            pass


_register()


def build_gru(
    *,
    vocab_size: int,
    hidden: int,
    layers: int,
    num_labels: int,
    max_positions: int = 512,
    dropout: float = 0.1,
    pad_token_id: int = 1,
    bos_token_id: int | None = 0,
    eos_token_id: int | None = 2,
) -> BiGRUForSequenceClassification:
    """Build a randomly initialised BiGRU student."""
    config = BiGRUConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        num_hidden_layers=layers,
        max_position_embeddings=max_positions,
        hidden_dropout_prob=dropout,
        pad_token_id=pad_token_id,
        bos_token_id=bos_token_id,
        eos_token_id=eos_token_id,
        num_labels=num_labels,
    )
    return BiGRUForSequenceClassification(config)


__all__ = [
    "BiGRUClassificationHead",
    "BiGRUConfig",
    "BiGRUForMaskedLM",
    "BiGRUForSequenceClassification",
    "BiGRULMHead",
    "BiGRUModel",
    "BiGRUOutput",
    "build_gru",
    "reverse_within_length",
]
