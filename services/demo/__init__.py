"""`joinedup demo`: realistic, deterministic data for every place, loaded through the real APIs.

``generate`` is pure (a seed, the places and the metric definitions in; leaders, plans and
observation rows out), so it is tested without services; ``load`` sends what it makes to the
running metrics_api, targets_api and ingest.
"""
