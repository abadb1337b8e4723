"""Scanning: which files are photos (``walk``), decoding them upright
(``decoding``), how well a face can be judged (``quality``), one job at a time
per library (``lock``), the scan loop (``scanner``) and forgetting what is gone
(``forget``)."""
