"""People: grouping faces (``grouping``, pure), a cluster run that stores the
groups and names them automatically (``cluster_run``), the user's decisions
(``decisions``), what a name may hold (``names``), the nearest named person
(``gallery``), suggestions, review and split (``suggestions``), who is in a
photo and verification (``identify``), and learning from decisions (``tune``)."""
