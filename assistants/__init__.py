"""One process per watched tmux session, plus the QA and deployment assistants."""
