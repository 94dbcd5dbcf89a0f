"""The kernel every Steward process shares: events, config, paths, the store, tmux, safe text.

It imports nothing else of Steward's.
"""
