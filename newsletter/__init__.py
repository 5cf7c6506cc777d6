"""arXiv Digest: a personal morning digest of new arXiv papers, by email."""

import os

# litellm reads these at import time: without them it fetches a price list from the network and
# loads a stray .env into the process. Set them before anything can import litellm.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_MODE", "PRODUCTION")

__version__ = "0.1.0"
