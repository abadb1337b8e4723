"""File descriptor 2 is one for the whole process, and C libraries write to it
directly: onnxruntime while it is imported, libjpeg inside LibRaw. facesort
points it elsewhere for a while in both places (facesort/engine/face_engine.py,
facesort/scanning/libjpeg_quiet.py). Each change holds this lock, so that
neither saves the other's stand-in as the real stderr and restores it later,
which would lose every later message."""

from __future__ import annotations

import threading

lock = threading.Lock()
