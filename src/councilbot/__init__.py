"""CouncilBot: a council's social media policy, put into daily practice in chat."""

__version__ = "0.1.0"
