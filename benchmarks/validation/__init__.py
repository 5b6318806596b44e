"""Correctness against the authors' code (ninatu/piad, a local checkout read at run time).

``lockstep`` runs both models from the same weights on the same batches, latents and penalty
mixing and names the first quantity that parts (``peer``: their code imported with run-time
shims; ``peer_setup``: what both sides share; ``random_replay``: the recorded draws replayed
into the other side; ``weight_map``: our layers to theirs; ``lockstep_report``: its differences and
outputs). ``peer_seeds`` trains both codes end to end over seeds (``peer_seeds_table``: its
rows, table and ``--merge``).
"""
