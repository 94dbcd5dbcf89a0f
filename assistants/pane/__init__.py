"""Reading one pane: its new lines (`new_lines`), read from tmux (`reader`), its state (`state`),
and the watch that turns them into Events (`watch`)."""
