"""Model weights shipped with CouncilBot (data, not code): ``judge.npz`` for ``councilbot.judge`` and
``lookup.json`` for ``councilbot.lookup``, each made by its script in ``scripts/``."""
