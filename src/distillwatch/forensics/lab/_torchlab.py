"""The PyTorch lab: a tiny word-level transformer teacher and students (optional extra ``lab``).

Not used by the tests. ``torch`` is imported when this module is, so import it only from the
benchmark (``bench/forensics_torch.py``). The teacher's watermark goes through
:class:`GreenListLogitsProcessor` on torch tensors, exactly as a provider's
``transformers`` generation would call it.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from distillwatch.forensics._tokenize import UNKNOWN, WordVocab
from distillwatch.forensics.lab._vocab import frequent_words

__all__ = ["TinyLM", "TorchLM", "build_vocab"]

_BOS = "<s>"


def build_vocab(texts: Sequence[str], size: int) -> WordVocab:
    """A closed vocabulary (the teacher's): BOS and the ``size - 1`` most frequent words.
    Students use ``OpenVocab``, which can also spell the words outside its list."""
    return WordVocab([_BOS, *frequent_words(texts, size - 1)])


class TinyLM(nn.Module):
    """A pre-norm causal transformer with tied input/output embeddings."""

    def __init__(self, vocab_size: int, d: int = 128, layers: int = 2, heads: int = 4,
                 ctx: int = 64) -> None:
        super().__init__()
        self.ctx = ctx
        self.tok = nn.Embedding(vocab_size, d)
        self.pos = nn.Embedding(ctx, d)
        layer = nn.TransformerEncoderLayer(d, heads, 4 * d, dropout=0.0, batch_first=True,
                                           norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab_size, bias=False)
        self.head.weight = self.tok.weight

    def forward(self, ids: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        """Next-token logits at every position, or (``last_only``) at the last one: the
        output layer is most of the cost with a large vocabulary, and generation needs only
        the last position's."""
        t = ids.shape[1]
        x = self.tok(ids) + self.pos(torch.arange(t, device=ids.device))
        mask = nn.Transformer.generate_square_subsequent_mask(t, device=ids.device)
        x = self.blocks(x, mask=mask, is_causal=True)
        if last_only:
            x = x[:, -1:, :]
        out: torch.Tensor = self.head(self.norm(x))
        return out


class TorchLM:
    """Vocabulary + TinyLM with the lab model interface (``complete``, ``complete_many``)."""

    def __init__(self, vocab: WordVocab, model: TinyLM) -> None:
        self.vocab = vocab
        self.model = model.eval()

    @staticmethod
    def train(texts: Sequence[str], vocab: WordVocab, *, steps: int | None = None,
              epochs: float | None = None, seed: int = 0, batch: int = 32, lr: float = 3e-3,
              **arch: Any) -> TorchLM:
        """Fit a new model on ``texts`` (documents joined with BOS): random windows, AdamW,
        cosine schedule; ``steps``, or ``epochs`` (passes over the tokens)."""
        torch.manual_seed(seed)
        model = TinyLM(len(vocab), **arch)
        _fit(model, _stream(texts, vocab), steps=steps, epochs=epochs, seed=seed, batch=batch,
             lr=lr)
        return TorchLM(vocab, model)

    def fine_tune(self, texts: Sequence[str], *, steps: int | None = None,
                  epochs: float | None = None, seed: int = 0, batch: int = 32,
                  lr: float = 1e-3) -> TorchLM:
        """A copy of this model trained further on ``texts``: what a distiller does with a
        pretrained base and the outputs it harvested (mixed with other data)."""
        torch.manual_seed(seed)
        model = copy.deepcopy(self.model)
        _fit(model, _stream(texts, self.vocab), steps=steps, epochs=epochs, seed=seed,
             batch=batch, lr=lr)
        return TorchLM(self.vocab, model)

    @torch.no_grad()
    def complete_many(self, prompt: str, n: int, max_tokens: int, *, temperature: float,
                      rng: np.random.Generator, processors: list[Any]) -> list[str]:
        ids = [0, *(i for i in self.vocab.encode(prompt) if i != UNKNOWN)]
        x = torch.tensor([ids] * n, dtype=torch.long)
        gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
        start = x.shape[1]
        for _ in range(max_tokens):
            logits = self.model(x[:, -self.model.ctx:], last_only=True)[:, -1, :].float()
            logits[:, 0] = -float("inf")
            for proc in processors:
                logits = proc(x, logits)
            if temperature <= 0:
                nxt = logits.argmax(dim=-1, keepdim=True)
            else:
                probs = torch.softmax(logits / temperature, dim=-1)
                nxt = torch.multinomial(probs, 1, generator=gen)
            x = torch.cat([x, nxt], dim=1)
        return [self.vocab.decode(row[start:].tolist()) for row in x]

    def complete(self, prompt: str, max_tokens: int, *, temperature: float,
                 rng: np.random.Generator, hooks: Sequence[Any] = ()) -> str:
        del hooks
        return self.complete_many(prompt, 1, max_tokens, temperature=temperature, rng=rng,
                                  processors=[])[0]

    @torch.no_grad()
    def perplexity(self, texts: Sequence[str], processors: Sequence[Any] = ()) -> tuple[float,
                                                                                        float]:
        """(perplexity, next-token accuracy) on ``texts``, optionally under processors."""
        nll, hits, n = 0.0, 0, 0
        for text in texts:
            ids = [0, *(i for i in self.vocab.encode(text) if i != UNKNOWN)]
            ids = ids[:self.model.ctx + 1]
            if len(ids) < 2:
                continue
            x = torch.tensor([ids])
            logits = self.model(x[:, :-1])[0].float()
            for t in range(logits.shape[0]):
                row = logits[t:t + 1]
                for proc in processors:
                    row = proc(x[:, :t + 1], row)
                logp = torch.log_softmax(row[0], dim=-1)
                nll -= float(logp[ids[t + 1]])
                hits += int(int(row[0].argmax()) == ids[t + 1])
                n += 1
        return math.exp(nll / max(n, 1)), hits / max(n, 1)


def _stream(texts: Sequence[str], vocab: WordVocab) -> torch.Tensor:
    stream: list[int] = []
    for text in texts:
        stream.append(0)
        stream.extend(i for i in vocab.encode(text) if i != UNKNOWN)
    return torch.tensor(stream, dtype=torch.long)


def _fit(model: TinyLM, data: torch.Tensor, *, steps: int | None, epochs: float | None,
         seed: int, batch: int, lr: float) -> None:
    """AdamW with a cosine schedule on random windows of ``data``, in place."""
    rng = np.random.default_rng(seed)
    ctx = model.ctx
    if steps is None:
        if epochs is None:
            raise ValueError("give steps or epochs")
        steps = max(1, math.ceil(epochs * len(data) / (batch * ctx)))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    model.train()
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
        starts = torch.from_numpy(rng.integers(0, len(data) - ctx - 1, size=batch))
        window = data[starts[:, None] + torch.arange(ctx + 1)[None, :]]
        logits = model(window[:, :-1])
        loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                           window[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
