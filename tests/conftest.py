"""Shared fixtures: real face photos, one face detector and one of each tiny model (built by
`tests/tiny_models.py`) for the whole session."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tiny_models import (
    save_random_detector,
    tiny_dfagpt_config,
    tiny_llama_config,
    word_splitter,
    word_tokenizer,
)

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "src" / "opendfa" / "assets" / "samples"
TEST_PHOTOS = ROOT / ".cache" / "test-photos"


@pytest.fixture(scope="session")
def astronaut_path() -> Path:
    return SAMPLES / "astronaut.jpg"


@pytest.fixture(scope="session")
def hopper_path() -> Path:
    return SAMPLES / "grace_hopper.jpg"


@pytest.fixture(scope="session")
def astronaut_rgb(astronaut_path: Path) -> np.ndarray:
    from opendfa.media import load_image

    return load_image(astronaut_path).rgb


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> str:
    """A random 64 px detector folder: the analysis pipeline's shape at a fraction of the cost."""
    return str(save_random_detector(tmp_path_factory.mktemp("m") / "tiny"))


@pytest.fixture(scope="session")
def face_detector():
    """MediaPipe's face detector (not the deepfake detector: that is `tiny_model`)."""
    from opendfa.faces import FaceDetector

    with FaceDetector() as shared:
        yield shared


@pytest.fixture(scope="session")
def astronaut_face(face_detector, astronaut_rgb):
    faces = face_detector.detect(astronaut_rgb)
    assert len(faces) == 1
    return faces[0]


@pytest.fixture(scope="session")
def group_photos() -> dict[str, Path]:
    """Multi-face photos from the npm package @vladmandic/face-api (scripts/fetch_test_photos.sh).

    Skipped when they could not be fetched, except in CI where their absence is a failure.
    """
    photos = {p.name: p for p in sorted(TEST_PHOTOS.glob("sample*.jpg"))}
    if len(photos) < 6:
        if os.environ.get("CI"):
            pytest.fail("group photos missing: run scripts/fetch_test_photos.sh")
        pytest.skip("group photos not fetched (scripts/fetch_test_photos.sh)")
    return photos


class FakeLLM:
    """A local OpenAI-compatible `/chat/completions` on loopback: replies from a queue of
    (status, text) and records each request (path, Authorization header, JSON body)."""

    def __init__(self) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.replies: list[tuple[int, str]] = []
        self.requests: list[dict] = []
        llm = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers["Content-Length"])
                llm.requests.append(
                    {
                        "path": self.path,
                        "auth": self.headers.get("Authorization"),
                        "body": json.loads(self.rfile.read(length)),
                    }
                )
                status, text = llm.replies.pop(0) if llm.replies else (200, "ok")
                message = {"role": "assistant", "content": text}
                body = json.dumps(
                    {
                        "choices": [{"message": message}],
                        "usage": {"prompt_tokens": 7, "completion_tokens": 3},
                    }
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def llm():
    server = FakeLLM()
    yield server
    server.server.shutdown()


# ------------------------------------------------------------------------ DFA-GPT, tiny models


def _toy_record(image: str, split: str, bright: bool, task: str, index: int) -> dict:
    label = "fake" if bright else "real"
    category = "face_swap" if bright else "real"
    if task == "DF-D":
        turns = ["<image>\nIs this face real or fake ?", "Fake ." if bright else "Real ."]
    elif task == "DF-C":
        turns = ["<image>\nWhat kind of forgery is this ?", "face swap ." if bright else "real ."]
    else:
        turns = [
            "<image>\nDescribe the artifacts .",
            "The face was swapped ." if bright else "Nothing looks edited .",
        ]
    return {
        "id": f"{split}-{index}-{task}",
        "image": image,
        "split": split,
        "label": label,
        "category": category,
        "identity": f"id{index}",
        "task": task,
        "conversations": [{"from": "human", "value": turns[0]}, {"from": "gpt", "value": turns[1]}],
    }


@pytest.fixture(scope="session")
def toy_instruct_dir(tmp_path_factory) -> Path:
    """A DFA-Instruct folder the shape `opendfa instruct build` writes: bright faces are fake,
    dark ones real, so only the image tells the answer (train, val and test splits)."""
    import json

    import cv2

    root = tmp_path_factory.mktemp("toy-instruct")
    (root / "images").mkdir()
    rng = np.random.default_rng(0)
    splits = {"train": 16, "val": 4, "test": 4}
    records: dict[str, list[dict]] = {}
    for split, count in splits.items():
        records[split] = []
        for index in range(count):
            bright = index % 2 == 0
            base = 200 if bright else 40
            pixels = np.clip(base + rng.normal(0, 12, (256, 256, 3)), 0, 255).astype(np.uint8)
            name = f"images/{split}-{index}.png"
            cv2.imwrite(str(root / name), pixels)
            for task in ("DF-D", "DF-C", "AD"):
                records[split].append(_toy_record(name, split, bright, task, index))
        (root / f"{split}.json").write_text(json.dumps(records[split]))
    with open(root / "instruct.jsonl", "w") as handle:
        for split in splits:
            for record in records[split]:
                handle.write(json.dumps(record) + "\n")
    return root


@pytest.fixture(scope="session")
def tiny_lm_dir(tmp_path_factory, toy_instruct_dir) -> Path:
    """A tiny random Llama and word-level tokenizer saved as a local Hugging Face folder: the
    "any local model" path of DFA-GPT, cheap enough for the default test run."""
    import json

    transformers = pytest.importorskip("transformers")
    pytest.importorskip("tokenizers")

    splitter = word_splitter()
    words = {"USER", "ASSISTANT", ":", "\n"}
    for line in (toy_instruct_dir / "instruct.jsonl").read_text().splitlines():
        for turn in json.loads(line)["conversations"]:
            words |= {w for w, _ in splitter.pre_tokenize_str(turn["value"].replace("<image>", ""))}
    tokenizer = word_tokenizer(sorted(words))
    import torch

    torch.manual_seed(0)
    config = tiny_llama_config(len(tokenizer), bos_token_id=2, eos_token_id=3, pad_token_id=0)
    folder = tmp_path_factory.mktemp("tiny-lm")
    model = transformers.LlamaForCausalLM(config)
    with torch.no_grad():  # logits as wide as a trained LM's (LoRA leaves the head frozen)
        model.lm_head.weight.mul_(100.0)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def random_dfagpt(tiny_lm_dir, tiny_model):
    """Builds a tiny DFA-GPT whose trainable weights are random and non-zero (as after
    training, so a wrong load or a changed answer would show), from a seed."""
    import torch

    from opendfa.models import dfagpt

    def build(seed: int):
        torch.manual_seed(seed)
        loaded = dfagpt.build(tiny_dfagpt_config(tiny_lm_dir, tiny_model))
        with torch.no_grad():
            for param in loaded.model.parameters():
                if param.requires_grad:
                    param.add_(torch.randn_like(param) * 0.5)
        loaded.model.eval()
        return loaded

    return build


@pytest.fixture(scope="session")
def tiny_dfagpt_dir(tmp_path_factory, tiny_lm_dir, tiny_model):
    """A random DFA-GPT folder (tiny Llama, the tiny detector's backbone): seconds to build."""
    pytest.importorskip("transformers")
    pytest.importorskip("peft")
    import torch

    from opendfa.models import dfagpt

    torch.manual_seed(0)
    return dfagpt.save(
        dfagpt.build(tiny_dfagpt_config(tiny_lm_dir, tiny_model)),
        tmp_path_factory.mktemp("dfa-gpt"),
    )


class AviTools:
    """Write MJPEG AVIs and make copies whose headers lie about their length (issue 22, F2)."""

    @staticmethod
    def write(path: Path, frames: list[np.ndarray], fps: float = 30.0) -> Path:
        """An MJPEG AVI of RGB frames (all the same size)."""
        import cv2

        height, width = frames[0].shape[:2]
        fourcc = cv2.VideoWriter_fourcc(*"MJPG")
        writer = cv2.VideoWriter(str(path), fourcc, fps, (width, height))
        if not writer.isOpened():
            pytest.skip("this OpenCV cannot write MJPEG AVI")
        for rgb in frames:
            writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        writer.release()
        return path

    @staticmethod
    def lie(path: Path, claimed: int) -> Path:
        """A copy with every frame count of the header (`avih` dwTotalFrames, each `strh`
        dwLength, OpenDML `dmlh` dwGrandFrames) set to `claimed`; the frames stay as they are."""
        import struct

        data = bytearray(path.read_bytes())
        patched = 0
        for tag, offset in ((b"avih", 16), (b"strh", 32), (b"dmlh", 0)):
            start = 0
            while (found := data.find(tag, start)) >= 0:
                struct.pack_into("<I", data, found + 8 + offset, claimed)
                patched += 1
                start = found + 4
        assert patched >= 2, "the writer's AVI has no header to patch"
        out = path.with_name(f"{path.stem}-claims-{claimed}.avi")
        out.write_bytes(bytes(data))
        return out


@pytest.fixture(scope="session")
def avi_tools() -> AviTools:
    return AviTools()


@pytest.fixture(scope="session")
def constant_flow_stream():
    """Save a tiny forensic-stream model whose warp-field head predicts the same displacement
    (dx, dy) everywhere: `constant_flow_stream(folder, (dx, dy))` -> the model folder."""

    def save(folder: Path, displacement: tuple[float, float]) -> Path:
        import torch

        from opendfa.models.forensic import ForensicConfig, ForensicNet, save_forensic

        torch.manual_seed(0)
        net = ForensicNet(ForensicConfig(width=8, depth=1, flow_head=True))
        with torch.no_grad():
            net.flow.weight.zero_()
            net.flow.bias.copy_(torch.tensor(displacement))
        return save_forensic(net, folder)

    return save
