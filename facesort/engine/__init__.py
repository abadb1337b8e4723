"""The face engine: load a model pack, detect, align and embed faces
(``face_engine``), the recognizer rewritten for the CPU (``cpugraph``), and the
distances measured for each pack (``thresholds``)."""
