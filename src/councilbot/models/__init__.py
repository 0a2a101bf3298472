"""Model weights shipped with CouncilBot (data, not code): see ``councilbot.learned``."""
