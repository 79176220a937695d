"""MediaPipe imported lean: the solutions OpenDFA never calls wait until someone asks for them,
still work when asked, and a failed import leaves nothing half-registered behind."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("mediapipe")


def _run(script: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_unused_solutions_and_tasks_do_not_run_at_import():
    out = _run(
        "import sys\n"
        "from opendfa.faces.mediapipe_import import import_solutions\n"
        "solutions = import_solutions()\n"
        "assert solutions.face_detection.FaceDetection and solutions.face_mesh.FaceMesh\n"
        "assert 'Pose' not in vars(sys.modules['mediapipe.python.solutions.pose'])\n"
        "assert 'FaceLandmarker' not in vars(sys.modules['mediapipe.tasks.python.vision'])\n"
        "print(sorted(m for m in ('http.client', 'email.message', 'matplotlib') "
        "if m in sys.modules))\n"
    )
    assert out == "[]"


def test_deferred_modules_work_when_asked_for():
    out = _run(
        "from opendfa.faces.mediapipe_import import import_solutions\n"
        "import_solutions()\n"
        "import mediapipe as mp\n"
        "print(mp.solutions.pose.Pose.__name__, mp.solutions.hands.Hands.__name__,\n"
        "      mp.tasks.BaseOptions.__name__, mp.tasks.vision.FaceLandmarker.__name__,\n"
        "      mp.tasks.components.containers.Landmark.__name__)\n"
        "from mediapipe.tasks.python.audio import AudioClassifier\n"
        "print(AudioClassifier.__name__)\n"
    )
    assert out.split() == [
        "Pose",
        "Hands",
        "BaseOptions",
        "FaceLandmarker",
        "Landmark",
        "AudioClassifier",
    ]


def test_a_failed_import_takes_its_deferred_modules_back_out():
    out = _run(
        "import sys\n"
        "class Broken:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'mediapipe.python._framework_bindings':\n"
        "            raise ImportError('simulated broken install')\n"
        "sys.meta_path.insert(0, Broken())\n"
        "from opendfa.faces.mediapipe_import import import_solutions\n"
        "try:\n"
        "    import_solutions()\n"
        "except RuntimeError as err:\n"
        "    print('failed:', 'mediapipe is not installed' in str(err))\n"
        "print(sorted(n for n in sys.modules if n.startswith('mediapipe.python.solutions.')\n"
        "             or n.startswith('mediapipe.tasks.python.')))\n"
    )
    assert out.splitlines() == ["failed: True", "[]"]


def test_two_threads_asking_at_once_both_get_the_whole_module():
    out = _run(
        "import sys, threading\n"
        "from opendfa.faces.mediapipe_import import import_solutions\n"
        "import_solutions()\n"
        "vision = sys.modules['mediapipe.tasks.python.vision']\n"
        "barrier, found = threading.Barrier(4), []\n"
        "def use():\n"
        "    barrier.wait()\n"
        "    found.append(vision.FaceLandmarker.__name__)\n"
        "threads = [threading.Thread(target=use) for _ in range(4)]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
        "print(found)\n"
    )
    assert out == str(["FaceLandmarker"] * 4)


def test_a_deferred_module_that_fails_reports_its_error_again_and_can_recover():
    out = _run(
        "import sys\n"
        "from opendfa.faces.mediapipe_import import import_solutions\n"
        "import_solutions()\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'matplotlib':\n"
        "            raise ImportError('no matplotlib (simulated)')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import mediapipe as mp\n"
        "for _ in range(2):\n"
        "    try:\n"
        "        mp.solutions.drawing_utils.draw_landmarks\n"
        "    except ImportError as err:\n"
        "        print(err)\n"
        "sys.meta_path.pop(0)\n"
        "print(mp.solutions.drawing_utils.draw_landmarks.__name__)\n"
    )
    assert out.splitlines() == ["no matplotlib (simulated)"] * 2 + ["draw_landmarks"]
