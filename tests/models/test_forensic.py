"""The pixel-level forensic stream: native-resolution maps, constrained filters, folders."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from opendfa.models.forensic import (
    ConstrainedConv,
    ForensicConfig,
    ForensicNet,
    face_score,
    load_forensic,
    predict_map,
    save_forensic,
    srm_kernels,
)


def test_high_pass_filters_remove_flat_content_and_keep_noise() -> None:
    flat = torch.full((1, 3, 32, 32), 0.7)
    kernels = srm_kernels()
    assert torch.allclose(kernels.sum(dim=(2, 3)), torch.zeros(9, 3), atol=1e-6)
    response = torch.nn.functional.conv2d(flat, kernels, padding=2)[..., 4:-4, 4:-4]
    assert response.abs().max() < 1e-5
    noisy = flat + 0.05 * torch.randn_like(flat)
    assert torch.nn.functional.conv2d(noisy, kernels, padding=2).abs().mean() > 1e-3


def test_constrained_convolution_only_learns_prediction_error_filters() -> None:
    layer = ConstrainedConv(3, 4)
    weight = layer.constrained()
    assert torch.allclose(weight[:, :, 2, 2], torch.full((4, 3), -1.0))
    off_centre = weight.sum(dim=(2, 3)) + 1.0  # the neighbours' sum, the centre taken out
    assert torch.allclose(off_centre.abs(), torch.ones(4, 3), atol=1e-4)


@pytest.mark.parametrize("shape", [(80, 120), (330, 270)])
def test_maps_come_out_at_the_input_size_and_tiles_agree_with_one_pass(shape) -> None:
    torch.manual_seed(0)
    model = ForensicNet(ForensicConfig(width=8, depth=2, tile=160))
    rgb = np.random.default_rng(1).integers(0, 256, (*shape, 3), np.uint8)
    logits = predict_map(model, rgb)
    assert logits.shape == shape and logits.dtype == np.float32
    whole = model.eval()(torch.from_numpy(rgb).permute(2, 0, 1)[None].float())[0, 0]
    # Tiles read 40 px of context, more than the receptive field: the seams do not show.
    assert np.abs(logits - whole.detach().numpy()).max() < 1e-3


def test_face_score_pools_the_most_suspicious_pixels_inside_the_face() -> None:
    logits = np.full((100, 100), -4.0, np.float32)
    logits[10:14, 10:14] = 3.0  # a small edit
    region = np.zeros((100, 100), bool)
    region[5:60, 5:60] = True
    small = face_score(logits, region, top_fraction=0.005)
    assert small == pytest.approx(3.0)
    outside = np.zeros_like(region)
    outside[50:90, 50:90] = True
    assert face_score(logits, outside, 0.005) == pytest.approx(-4.0)


def test_a_saved_model_loads_back_identical_and_refuses_changed_weights(tmp_path) -> None:
    torch.manual_seed(0)
    model = ForensicNet(ForensicConfig(width=8, depth=1))
    folder = save_forensic(model, tmp_path / "f", metrics={"auc": 0.5})
    loaded, info = load_forensic(folder)
    assert info["metrics"] == {"auc": 0.5} and info["config"]["width"] == 8
    rgb = np.random.default_rng(0).integers(0, 256, (64, 64, 3), np.uint8)
    assert np.array_equal(predict_map(model, rgb), predict_map(loaded, rgb))
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\x00")
    with pytest.raises(ValueError, match="sha256"):
        load_forensic(folder)


def test_the_flow_head_is_optional_tiled_and_saved(tmp_path) -> None:
    from opendfa.models.forensic import predict_flow

    torch.manual_seed(0)
    plain = ForensicNet(ForensicConfig(width=8, depth=2, tile=160))
    rgb = np.random.default_rng(2).integers(0, 256, (330, 270, 3), np.uint8)
    assert predict_flow(plain, rgb) is None and plain(torch.zeros(1, 3, 32, 32)).shape[1] == 1
    model = ForensicNet(ForensicConfig(width=8, depth=2, tile=160, flow_head=True))
    flow = predict_flow(model, rgb)
    assert flow.shape == (330, 270, 2) and flow.dtype == np.float32
    logits, whole = model.eval()(torch.from_numpy(rgb).permute(2, 0, 1)[None].float(), True)
    assert np.abs(flow - whole[0].permute(1, 2, 0).detach().numpy()).max() < 1e-3
    assert np.abs(predict_map(model, rgb) - logits[0, 0].detach().numpy()).max() < 1e-3
    again, info = load_forensic(save_forensic(model, tmp_path / "with-flow"))
    assert info["config"]["flow_head"] is True
    assert np.array_equal(predict_flow(again, rgb), flow)
