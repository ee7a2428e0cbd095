"""UI helpers shared by the pages: session state (state.py) and caches (cached.py). Never imported by icp_core."""
