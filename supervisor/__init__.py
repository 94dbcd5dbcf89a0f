"""Starts and keeps Steward alive under Circus, and reconciles tmux sessions to assistants."""
